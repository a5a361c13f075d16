# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A simulated clock for code that reads the time and sleeps: tests run instantly and exactly.

Hand its methods to the code under test where it would take ``time.monotonic``,
``time.time`` and ``time.sleep``. Nothing really waits: the clock moves only when the
code under test sleeps or the test calls ``advance`` (an API call's latency, a timed-out
select), so every moment a test asserts on is known to the digit.
"""

from __future__ import annotations


class FakeClock:
    """Seconds from ``start`` on the monotonic clock; wall time is ``wall_offset`` later."""

    def __init__(self, start=0.0, wall_offset=0.0):
        self.now = start
        self.wall_offset = wall_offset
        self.sleeps = []

    def monotonic(self):
        return self.now

    def time(self):
        return self.wall_offset + self.now

    def sleep(self, seconds):
        # time.sleep would accept 0 and refuse a negative; code that sleeps for nothing has
        # computed its wait wrong, so the fake refuses both.
        assert seconds > 0, "sleep(%r): a wait that is not in the future" % (seconds,)
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        """Time passing in something other than a sleep (the test says how much)."""
        self.now += seconds
