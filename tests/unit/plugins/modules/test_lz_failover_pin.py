# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lz_failover_pin against the local endpoint's DynamoDB: pin, repeat, check mode and diff, release, query, bad input.

The module runs in-process with lz_prefix_list's stand-in for AnsibleAWSModule, whose
client is a boto3 DynamoDB client of the endpoint, so every call is real (moto).
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import active_pin
from ansible_collections.localzones.failover.plugins.modules import lz_failover_pin
from tests.support.coordination_table import TABLE
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client
from tests.support.coordination_table import put_lease
from tests.support.coordination_table import put_view
from tests.support.fake_clock import FakeClock
from tests.unit.plugins.modules.test_lz_prefix_list import module_runner

pytestmark = pytest.mark.moto

GROUP = "lz-failover"
PIN = {"state": "pinned", "path": "vpn", "who": "alice", "why": "DX maintenance CHG-1234"}


@pytest.fixture
def dynamodb(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    client = dynamodb_client(ec2_endpoint)
    create_coordination_table(client)
    return client


@pytest.fixture
def run_module(monkeypatch, dynamodb):
    """``run_module(check_mode=False, **params)``: the task's result (``failed`` says whether it failed)."""
    run = module_runner(monkeypatch, lz_failover_pin, table=TABLE, failover_group=GROUP)
    return lambda check_mode=False, **params: run(dynamodb, check_mode, **params)


def stored_pin(dynamodb):
    return active_pin(read_group(dynamodb, TABLE, GROUP), time.time())


def test_check_mode_plans_the_pin_and_writes_nothing(run_module, dynamodb):
    result = run_module(check_mode=True, duration_s=600, **PIN)
    assert result["changed"] is True and not result["failed"]
    assert result["diff"] == {"before": {}, "after": {"path": "vpn", "until": pytest.approx(time.time() + 600, abs=30),
                                                      "who": "alice", "why": "DX maintenance CHG-1234"}}
    assert result["status"]["pin"]["path"] == "vpn" and result["pin"] == result["status"]["pin"]
    assert stored_pin(dynamodb) is None


def test_pin_is_written_then_unchanged_then_released(run_module, dynamodb):
    until = str(int(time.time()) + 3600)
    pinned = run_module(until=until, **PIN)
    assert pinned["changed"] is True and pinned["previous_pin"] is None
    assert (stored_pin(dynamodb).path, stored_pin(dynamodb).until, stored_pin(dynamodb).who) == ("vpn", float(until), "alice")

    again = run_module(until=until, **PIN)
    assert again["changed"] is False, "the same pin in force is left as it is"
    assert again["diff"]["before"] == again["diff"]["after"]

    other = run_module(until=until, **dict(PIN, path="dx"))
    assert other["changed"] is True and other["previous_pin"]["path"] == "vpn" and stored_pin(dynamodb).path == "dx"

    checked = run_module(check_mode=True, state="released")
    assert checked["changed"] is True and checked["status"]["pin"] is None and stored_pin(dynamodb) is not None

    released = run_module(state="released")
    assert released["changed"] is True and released["pin"] is None and stored_pin(dynamodb) is None
    assert run_module(state="released")["changed"] is False


def test_query_reports_the_holder_the_pin_and_each_view(run_module, dynamodb):
    now = time.time()
    put_lease(dynamodb, GROUP, "utility-1", 4, now + 8)
    put_view(dynamodb, GROUP, "utility-1", "holder", "healthy", "dx", now - 1)
    put_view(dynamodb, GROUP, "utility-2", "standby", "healthy", "dx", now - 1)
    run_module(**PIN)

    result = run_module()
    assert result["changed"] is False and "diff" in result
    status = result["status"]
    assert (status["lease"]["holder"], status["lease"]["fencing"], status["lease"]["live"]) == ("utility-1", 4, True)
    assert status["pin"]["until"] is None and status["pin"]["who"] == "alice"
    assert [(view["monitor_id"], view["role"]) for view in status["monitors"]] == [("utility-1", "holder"), ("utility-2", "standby")]
    assert (result["holder"]["monitor_id"], result["holder"]["desired_path"], result["holder"]["fencing"]) == ("utility-1", "dx", 4)


def test_bad_request_is_one_message_before_any_call(monkeypatch, run_module, dynamodb):
    monkeypatch.setattr(lz_failover_pin, "read_group", lambda *args: pytest.fail("no call on a bad input"))
    result = run_module(until="2001-01-01T00:00:00Z", **dict(PIN, why=" "))
    assert result["failed"] is True
    assert result["msg"].startswith("until must be in the future") and "why must be a non-empty text" in result["msg"]
    assert len(result["problems"]) == 2


def test_an_expired_pin_is_reported_as_previous_and_not_in_force(monkeypatch, run_module):
    clock = FakeClock(wall_offset=time.time())
    monkeypatch.setattr(lz_failover_pin, "time", clock)
    run_module(duration_s=60, **PIN)
    clock.advance(60)
    result = run_module()
    assert result["pin"] is None and result["previous_pin"]["in_force"] is False
    assert run_module(state="released")["changed"] is True, "releasing removes the ended pin item too"
