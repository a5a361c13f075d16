# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ending the child processes a test or a benchmark started, by their ``Popen`` handle."""

from __future__ import annotations

import signal
import subprocess


def stop_process(process, timeout=5.0):
    """SIGTERM ``process`` if it still runs, SIGKILL it if it has not exited ``timeout`` seconds later."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
