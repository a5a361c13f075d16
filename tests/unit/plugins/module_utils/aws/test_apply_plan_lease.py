# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""apply_plan's ``may_write`` guard: asked before each route call; once it says no, no further call starts."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.errors import LeaseLostError
from tests.unit.plugins.module_utils.aws.test_apply_plan import RouteCalls
from tests.unit.plugins.module_utils.aws.test_apply_plan import plan_of
from tests.unit.plugins.module_utils.aws.test_apply_plan import tables_of


class LeaseUntil:
    """``may_write`` that says yes for the first ``calls_allowed`` questions, then no (the lease lapsed)."""

    def __init__(self, calls_allowed):
        self.calls_allowed = calls_allowed
        self.asked = 0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            self.asked += 1
            return self.asked <= self.calls_allowed


def test_a_monitor_that_is_not_the_writer_makes_no_call():
    client = RouteCalls()
    with pytest.raises(LeaseLostError) as excinfo:
        apply_plan(client, plan_of(3), may_write=lambda: False)
    assert client.started == [] and excinfo.value.completed == ()
    assert isinstance(excinfo.value, FailoverError)


def test_a_lease_that_lapses_mid_plan_stops_before_the_next_sequential_call():
    plan, client, guard = plan_of(5), RouteCalls(), LeaseUntil(2)
    with pytest.raises(LeaseLostError) as excinfo:
        apply_plan(client, plan, may_write=guard)
    assert client.tables_called() == [action.route_table_id for action in plan.actions[:2]]
    assert tables_of(excinfo.value.completed) == client.tables_called()
    assert excinfo.value.failed_action == plan.actions[2], "the action that was not started"


def test_a_lease_that_lapses_mid_plan_stops_the_parallel_calls_too():
    plan, client, guard = plan_of(40), RouteCalls(latency_s=0.01), LeaseUntil(6)
    with pytest.raises(LeaseLostError) as excinfo:
        apply_plan(client, plan, may_write=guard, pacer=Pacer(max_parallel_calls=4))
    assert len(client.started) == 6, "exactly the calls started while the lease was valid"
    assert sorted(tables_of(excinfo.value.completed)) == sorted(client.tables_called())


def test_a_pacer_with_one_call_asks_before_each_call():
    plan, client, guard = plan_of(4), RouteCalls(), LeaseUntil(100)
    apply_plan(client, plan, may_write=guard, pacer=Pacer(max_parallel_calls=1))
    assert guard.asked == 4 and len(client.started) == 4


def test_without_a_guard_every_action_runs():
    plan, client = plan_of(3), RouteCalls()
    assert len(apply_plan(client, plan, may_write=None)) == 3
