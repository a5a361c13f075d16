# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side token buckets and the pacer (plugins/module_utils/aws/pacing.py), on a simulated clock."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import MUTATING_BURST
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import MUTATING_RATE_PER_S
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import THROTTLE_CAP_S
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import TokenBucket
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import is_throttling
from tests.support.fake_clock import FakeClock


def bucket_on(clock, capacity=50, rate_per_s=5.0):
    return TokenBucket(capacity, rate_per_s, clock=clock.monotonic, sleep=clock.sleep)


def test_a_full_bucket_gives_its_capacity_at_once_then_nothing():
    clock = FakeClock()
    bucket = bucket_on(clock)
    assert [bucket.try_acquire() for _token in range(50)] == [True] * 50
    assert not bucket.try_acquire()
    assert bucket.wait_time() == pytest.approx(0.2)


def test_tokens_refill_at_the_rate_and_never_beyond_the_capacity():
    clock = FakeClock()
    bucket = bucket_on(clock, capacity=10, rate_per_s=5.0)
    for _token in range(10):
        bucket.try_acquire()
    clock.advance(0.5)
    assert bucket.tokens == pytest.approx(2.5)
    assert bucket.try_acquire() and bucket.try_acquire() and not bucket.try_acquire()
    clock.advance(3600)
    assert bucket.tokens == pytest.approx(10)


def test_acquire_waits_exactly_until_the_next_token():
    clock = FakeClock()
    bucket = bucket_on(clock, capacity=2, rate_per_s=4.0)
    waits = [bucket.acquire() for _token in range(6)]
    assert waits == pytest.approx([0, 0, 0.25, 0.25, 0.25, 0.25])
    assert clock.now == pytest.approx(1.0), "2 at once, then 4 more at 4 per second"


def test_a_drained_bucket_starts_refilling_from_empty():
    clock = FakeClock()
    bucket = bucket_on(clock)
    bucket.drain()
    assert bucket.tokens == 0
    assert bucket.acquire() == pytest.approx(0.2)


def test_concurrent_takers_never_get_more_than_the_tokens():
    clock = FakeClock()  # does not move: only the 50 tokens of the full bucket exist
    bucket = bucket_on(clock)
    taken = []

    def take():
        taken.extend(result for result in (bucket.try_acquire() for _token in range(40)) if result)

    threads = [threading.Thread(target=take) for _thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 50


@pytest.mark.parametrize("capacity, rate", [(0, 5.0), (50, 0), (50, -1)])
def test_a_bucket_that_cannot_give_tokens_is_refused(capacity, rate):
    with pytest.raises(ValueError):
        TokenBucket(capacity, rate)


def test_the_pacer_defaults_mirror_ec2s_mutating_bucket_one_per_action():
    clock = FakeClock()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    assert (MUTATING_BURST, MUTATING_RATE_PER_S, pacer.max_parallel_calls) == (50, 5.0, 8)
    for _token in range(50):
        pacer.acquire("create_route")
    assert clock.now == 0, "a burst of 50 goes out at once"
    assert pacer.acquire("delete_route") == 0, "each action has its own bucket, as in EC2"
    assert pacer.acquire("create_route") == pytest.approx(0.2)
    assert pacer.bucket("create_route") is pacer.bucket("create_route")


def test_throttle_delay_doubles_to_a_short_cap_with_jitter():
    pacer = Pacer(rng=lambda: 1.0)
    assert [pacer.throttle_delay(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert Pacer(rng=lambda: 0.0).throttle_delay(40) == pytest.approx(THROTTLE_CAP_S / 2)


def test_a_throttling_answer_empties_the_actions_bucket_only():
    clock = FakeClock()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.on_throttled("create_route")
    assert pacer.throttled == 1
    assert pacer.bucket("create_route").tokens == 0
    assert pacer.bucket("replace_route").tokens == MUTATING_BURST


def test_throttling_codes():
    assert is_throttling("RequestLimitExceeded") and not is_throttling("InternalError")


def test_at_least_one_call_in_flight():
    with pytest.raises(ValueError):
        Pacer(max_parallel_calls=0)
