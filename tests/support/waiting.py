"""Polling with a deadline, for tests that wait on real processes and networks."""

from __future__ import annotations

import time


def wait_for(check, timeout, what, interval=0.05):
    """Return the first truthy ``check()``; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(interval)
