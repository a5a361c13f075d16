# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side pacing of EC2 calls: spend the account's request budget deliberately.

EC2 throttles each API action per account and Region with a token bucket
(mutating actions such as CreateRoute: 50 tokens, refilled at 5 per second).
A client that sends faster than that only collects RequestLimitExceeded answers,
and every one of them costs a retry. So the executor draws one token from its
own bucket per call (``TokenBucket``, one per API action, sized like EC2's),
keeps at most ``max_parallel_calls`` calls in flight, and after a throttling
answer empties its bucket and retries the call itself after a short jittered
wait (``Pacer.throttle_delay``), instead of botocore's backoff, which grows to
several seconds and so delays the switch long after EC2 answers again.

A pacer only sees its own calls: several processes that share one account
must share the budget by configuration (each gets its part of rate and burst).
"""

from __future__ import annotations

import random
import threading
import time

# EC2's default bucket for mutating actions (CreateRoute, ReplaceRoute, DeleteRoute).
MUTATING_BURST = 50
MUTATING_RATE_PER_S = 5.0
MAX_PARALLEL_CALLS = 8
# After RequestLimitExceeded: wait THROTTLE_BASE_S * 2**n, at most THROTTLE_CAP_S, scaled by 0.5..1.
THROTTLE_BASE_S = 0.1
THROTTLE_CAP_S = 1.0
# How many throttling answers one call may get before its error is returned (about a minute of waits).
THROTTLE_RETRIES = 60
THROTTLING_CODES = frozenset(("RequestLimitExceeded", "Throttling", "ThrottlingException"))


def jittered_backoff(attempt, base, cap, rng=random.random):
    """Capped exponential backoff with jitter: ``base`` doubling with each ``attempt`` (1, 2, ...) up to ``cap``, scaled by 0.5..1."""
    return min(cap, base * 2 ** max(0, attempt - 1)) * (0.5 + rng() / 2.0)


def is_throttling(code):
    """True for the error codes with which AWS says "too many requests"."""
    return code in THROTTLING_CODES


# The shortest wait for a token (see TokenBucket.acquire).
MIN_WAIT_S = 0.001


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate_per_s``; starts full; thread-safe.

    ``clock`` and ``sleep`` are injectable so tests run without waiting.
    """

    def __init__(self, capacity, rate_per_s, clock=time.monotonic, sleep=time.sleep):
        if capacity < 1 or rate_per_s <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and a refill rate > 0, got %r and %r" % (capacity, rate_per_s))
        self.capacity = capacity
        self.rate_per_s = rate_per_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(capacity)
        self._updated = clock()

    def _refill(self):
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now

    @property
    def tokens(self):
        """The tokens available now (fractional while one is refilling)."""
        with self._lock:
            self._refill()
            return self._tokens

    def try_acquire(self):
        """Take one token if there is one; True when taken."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def wait_time(self):
        """Seconds until the next token (0 when one is there)."""
        with self._lock:
            self._refill()
            return max(0.0, (1.0 - self._tokens) / self.rate_per_s)

    def acquire(self):
        """Take one token, waiting until there is one; return the seconds waited."""
        waited = 0.0
        while not self.try_acquire():
            # At least MIN_WAIT_S: a float remainder (4e-17 s) added to a clock changes
            # nothing, and the loop would ask again forever.
            delay = max(self.wait_time(), MIN_WAIT_S)
            self._sleep(delay)
            waited += delay
        return waited

    def drain(self):
        """Empty the bucket: the service said it has no tokens left, so neither have we."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)


class Pacer:  # pylint: disable=too-many-instance-attributes
    """The buckets (one per API action, created on first use) and the parallelism limit of one client."""

    def __init__(  # pylint: disable=too-many-arguments
        self, max_parallel_calls=MAX_PARALLEL_CALLS, rate_per_s=MUTATING_RATE_PER_S, burst=MUTATING_BURST,
        clock=time.monotonic, sleep=time.sleep, rng=random.random, throttle_retries=THROTTLE_RETRIES,
    ):
        if max_parallel_calls < 1:
            raise ValueError("max_parallel_calls must be >= 1, got %r" % (max_parallel_calls,))
        self.max_parallel_calls = max_parallel_calls
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.throttle_retries = throttle_retries
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._lock = threading.Lock()
        self._buckets = {}
        self.throttled = 0  # throttling answers seen, for reports and tests

    def bucket(self, operation):
        """The bucket of the API action ``operation`` (a client method name, "create_route")."""
        with self._lock:
            if operation not in self._buckets:
                self._buckets[operation] = TokenBucket(self.burst, self.rate_per_s, self._clock, self._sleep)
            return self._buckets[operation]

    def acquire(self, operation):
        """Wait for a token of ``operation``'s bucket; return the seconds waited."""
        return self.bucket(operation).acquire()

    def throttle_delay(self, throttles):
        """Seconds to wait after the ``throttles``-th throttling answer in a row of one call (1, 2, ...)."""
        return jittered_backoff(throttles, THROTTLE_BASE_S, THROTTLE_CAP_S, self._rng)

    def on_throttled(self, operation):
        """EC2 throttled ``operation``: empty its bucket; return nothing, the caller waits ``throttle_delay``."""
        with self._lock:
            self.throttled += 1
        self.bucket(operation).drain()

    def sleep(self, seconds):
        self._sleep(seconds)
