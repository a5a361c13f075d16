# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Polling with a deadline, for code that waits on real processes and networks.

One loop, two ways to end it: a test waits ``wait_for`` something that must happen (a
timeout fails it, naming what it waited for); a measurement takes ``first_within`` a
time cap, where running out is an outcome to record, not an error.
"""

from __future__ import annotations

import time


def first_within(check, timeout, interval=0.05):
    """The first truthy ``check()`` within ``timeout`` seconds, else None (``check`` runs at least once)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def wait_for(check, timeout, what, interval=0.05):
    """Return the first truthy ``check()``; fail after ``timeout`` seconds naming ``what``."""
    value = first_within(check, timeout, interval)
    if value is None:
        raise AssertionError("timed out after %g s waiting for %s" % (timeout, what))
    return value
