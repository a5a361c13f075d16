# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan executor (ec2.apply_plan): order, parallel calls within the pacer's limits, partial failures.

A stand-in EC2 client records every route call; its answers take a few milliseconds
so parallel calls really overlap. Every test runs in well under a second.
"""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.routes import ACTION_CREATE
from ansible_collections.localzones.failover.plugins.module_utils.routes.plan import Plan
from ansible_collections.localzones.failover.plugins.module_utils.routes.plan import RouteAction
from tests.support.fake_clock import FakeClock

ENI = "eni-0123456789abcdef0"


def plan_of(count):
    actions = tuple(RouteAction("rtb-%08d" % index, "198.19.0.0/24", ACTION_CREATE, target=ENI) for index in range(count))
    return Plan(path="vpn", actions=actions)


def api_error_answer(code):
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, "CreateRoute")


class RouteCalls:
    """A stand-in client: ``create_route`` answers after ``latency_s`` (per table) or raises the scripted error."""

    def __init__(self, latency_s=0.005, errors=None, latencies=None):
        self.latency_s = latency_s
        self.latencies = latencies or {}
        self.errors = errors or {}  # table -> list of error codes, answered in turn
        self.started = []  # (time, table) in the order the calls were made
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def create_route(self, RouteTableId, **_params):  # pylint: disable=invalid-name
        with self._lock:
            self.started.append((time.monotonic(), RouteTableId))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            scripted = self.errors.get(RouteTableId)
            code = scripted.pop(0) if scripted else None
        try:
            time.sleep(self.latencies.get(RouteTableId, self.latency_s))
            if code:
                raise api_error_answer(code)
            return {"Return": True}
        finally:
            with self._lock:
                self.in_flight -= 1

    def tables_called(self):
        return [table for _at, table in self.started]


def tables_of(outcomes):
    return [outcome.action.route_table_id for outcome in outcomes]


def test_without_a_pacer_actions_run_one_at_a_time_in_plan_order():
    plan, client, reported = plan_of(5), RouteCalls(), []
    outcomes = apply_plan(client, plan, on_outcome=reported.append)
    expected = [action.route_table_id for action in plan.actions]
    assert client.tables_called() == expected and client.most_in_flight == 1
    assert tables_of(outcomes) == expected and reported == outcomes


def test_a_pacer_with_one_call_in_flight_is_sequential():
    plan, client = plan_of(4), RouteCalls()
    apply_plan(client, plan, pacer=Pacer(max_parallel_calls=1))
    assert client.most_in_flight == 1
    assert client.tables_called() == [action.route_table_id for action in plan.actions]


def test_a_burst_goes_out_in_parallel_up_to_the_limit():
    plan, client = plan_of(24), RouteCalls(latency_s=0.05)
    outcomes = apply_plan(client, plan, pacer=Pacer(max_parallel_calls=6))
    assert client.most_in_flight == 6
    assert tables_of(outcomes) == [action.route_table_id for action in plan.actions], "outcomes in plan order"
    assert client.tables_called()[:6] == [action.route_table_id for action in plan.actions[:6]], "started in plan order"


def test_after_the_burst_calls_start_no_faster_than_the_tokens_refill():
    # 4 tokens at once, then 20 per second: call n (from 0) cannot start before (n - 3) / 20 s.
    plan, client = plan_of(12), RouteCalls(latency_s=0.001)
    started = time.monotonic()
    apply_plan(client, plan, pacer=Pacer(max_parallel_calls=8, rate_per_s=20.0, burst=4))
    offsets = sorted(at - started for at, _table in client.started)
    for index, offset in enumerate(offsets):
        assert offset >= (index - 3) / 20.0 - 0.01, (index, offset)


def test_on_outcome_follows_plan_order_even_when_later_calls_answer_first():
    plan = plan_of(6)
    slow_first = {action.route_table_id: 0.06 - 0.01 * index for index, action in enumerate(plan.actions)}
    client, reported = RouteCalls(latencies=slow_first), []
    apply_plan(client, plan, on_outcome=reported.append, pacer=Pacer(max_parallel_calls=6))
    assert tables_of(reported) == [action.route_table_id for action in plan.actions]


def test_a_sequential_failure_names_the_failed_action_and_what_was_applied():
    plan = plan_of(5)
    failing = plan.actions[2]
    client = RouteCalls(errors={failing.route_table_id: ["InternalError"]})
    with pytest.raises(AwsApiError) as excinfo:
        apply_plan(client, plan)
    assert excinfo.value.failed_action == failing
    assert tables_of(excinfo.value.completed) == [action.route_table_id for action in plan.actions[:2]]
    assert len(client.started) == 3, "nothing is called after the failure"


def test_a_parallel_failure_reports_every_applied_action_and_starts_no_new_call():
    plan = plan_of(30)
    failing = plan.actions[1]
    latencies = {action.route_table_id: 0.01 for action in plan.actions}
    latencies[failing.route_table_id] = 0.08  # the calls after it keep going until it fails
    client, reported = RouteCalls(errors={failing.route_table_id: ["InternalError"]}, latencies=latencies), []
    with pytest.raises(AwsApiError) as excinfo:
        apply_plan(client, plan, on_outcome=reported.append, pacer=Pacer(max_parallel_calls=4))
    called = client.tables_called()
    assert excinfo.value.failed_action == failing and excinfo.value.code == "InternalError"
    assert len(called) < len(plan.actions), "no new call after the failure was seen"
    applied = [table for table in called if table != failing.route_table_id]
    in_plan_order = [action.route_table_id for action in plan.actions if action.route_table_id in applied]
    assert tables_of(excinfo.value.completed) == in_plan_order, "every call that succeeded, even after the failed one"
    assert any(plan.actions.index(outcome.action) > 1 for outcome in excinfo.value.completed)
    assert reported == list(excinfo.value.completed), "each applied action was reported once"
    assert client.in_flight == 0, "calls in flight finished before the error was raised"


def test_of_several_parallel_failures_the_earliest_in_the_plan_is_raised():
    plan = plan_of(4)
    errors = {plan.actions[1].route_table_id: ["InternalError"], plan.actions[2].route_table_id: ["Unavailable"]}
    latencies = {plan.actions[1].route_table_id: 0.05, plan.actions[2].route_table_id: 0.0}
    with pytest.raises(AwsApiError) as excinfo:
        apply_plan(RouteCalls(errors=errors, latencies=latencies), plan, pacer=Pacer(max_parallel_calls=4))
    assert excinfo.value.failed_action == plan.actions[1] and excinfo.value.code == "InternalError"


def test_a_throttled_call_waits_briefly_and_runs_again():
    clock = FakeClock()
    plan = plan_of(2)
    client = RouteCalls(latency_s=0.0, errors={plan.actions[0].route_table_id: ["RequestLimitExceeded"] * 3})
    pacer = Pacer(max_parallel_calls=1, clock=clock.monotonic, sleep=clock.sleep, rng=lambda: 1.0)
    outcomes = apply_plan(client, plan, pacer=pacer)
    assert [outcome.outcome for outcome in outcomes] == ["done", "done"]
    assert pacer.throttled == 3 and len(client.started) == 5
    assert clock.now < 1.0, "three throttles cost 0.1 + 0.2 + 0.4 s and the tokens they drained"


def test_a_call_throttled_beyond_its_retries_fails_with_the_throttling_error():
    clock = FakeClock()
    plan = plan_of(1)
    client = RouteCalls(latency_s=0.0, errors={plan.actions[0].route_table_id: ["RequestLimitExceeded"] * 10})
    pacer = Pacer(max_parallel_calls=1, clock=clock.monotonic, sleep=clock.sleep, throttle_retries=3)
    with pytest.raises(AwsApiError) as excinfo:
        apply_plan(client, plan, pacer=pacer)
    assert excinfo.value.code == "RequestLimitExceeded" and excinfo.value.failed_action == plan.actions[0]
    assert len(client.started) == 4 and excinfo.value.completed == ()


def test_without_a_pacer_throttling_is_not_retried():
    plan = plan_of(1)
    client = RouteCalls(latency_s=0.0, errors={plan.actions[0].route_table_id: ["RequestLimitExceeded"]})
    with pytest.raises(AwsApiError):
        apply_plan(client, plan)
    assert len(client.started) == 1


def test_an_exception_from_on_outcome_stops_new_calls():
    plan = plan_of(20)

    class Stop(Exception):
        pass

    def stop(_outcome):
        raise Stop()

    client = RouteCalls(latency_s=0.01)
    with pytest.raises(Stop):
        apply_plan(client, plan, on_outcome=stop, pacer=Pacer(max_parallel_calls=4))
    assert len(client.started) < 20 and client.in_flight == 0
