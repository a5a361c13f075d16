# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator pin's rules: which pin is in force, which path wins, what a request may be, and a group's status."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils import events
from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import Pin
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import active_pin
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import effective_path
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import group_status
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import live_holder
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import pin_change
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import pin_problems
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import requested_until

NOW = 1_800_000_000.0
GROUP = "lz-failover"


def lease_item(holder="mon-a", fencing=3, expires_at=NOW + 5):
    item = schema.key(GROUP, schema.LEASE_RECORD)
    item.update({schema.HOLDER: {"S": holder}, schema.FENCING: {"N": str(fencing)}, schema.EXPIRES_AT: {"N": str(expires_at)}})
    return item


def view_item(monitor_id, role, dx_state="healthy", desired_path="dx", updated_at=NOW - 1.5):
    item = schema.key(GROUP, schema.monitor_record(monitor_id))
    item.update({schema.VIEW_MONITOR_ID: {"S": monitor_id}, schema.VIEW_ROLE: {"S": role}, schema.VIEW_DX_STATE: {"S": dx_state},
                 schema.VIEW_DESIRED_PATH: {"S": desired_path}, schema.VIEW_UPDATED_AT: {"N": str(updated_at)}})
    return item


def test_a_pin_round_trips_through_its_item():
    pin = Pin(path="vpn", until=NOW + 600.5, who="alice", why="DX maintenance CHG-1", set_at=NOW)
    item = pin.to_item(GROUP)
    assert item[schema.PARTITION_KEY] == {"S": GROUP} and item[schema.SORT_KEY] == {"S": schema.PIN_RECORD}
    assert item[schema.PIN_UNTIL] == {"N": "1800000600.5"}
    assert Pin.from_item(item) == pin


def test_a_pin_until_released_has_no_until_attribute_and_stays_in_force():
    pin = Pin(path="dx", until=None, who="alice", why="hold", set_at=NOW)
    item = pin.to_item(GROUP)
    assert schema.PIN_UNTIL not in item
    assert active_pin(item, NOW + 10 ** 7) == pin


def test_only_an_unexpired_pin_is_in_force():
    item = Pin(path="vpn", until=NOW + 60, who="a", why="b", set_at=NOW).to_item(GROUP)
    assert active_pin([lease_item(), item], NOW + 59.9).path == "vpn"
    assert active_pin([lease_item(), item], NOW + 60) is None, "a pin ends at its until, even if nobody deleted it"
    assert active_pin([lease_item()], NOW) is None
    assert active_pin([], NOW) is None and active_pin(None, NOW) is None


def test_a_damaged_pin_item_never_moves_traffic():
    item = Pin(path="vpn", until=None, who="a", why="b", set_at=NOW).to_item(GROUP)
    item[schema.PIN_PATH] = {"S": "both"}
    assert active_pin([item], NOW) is None


@pytest.mark.parametrize("decided", ["dx", "vpn"])
def test_the_pin_wins_while_in_force(decided):
    pin = Pin(path="vpn", until=None, who="a", why="b", set_at=NOW)
    assert effective_path(decided, pin) == ("vpn", "pinned")
    assert effective_path(decided, None) == (decided, "decided")


def test_a_good_request_has_no_problems():
    assert pin_problems("dx", NOW + 1, "alice", "maintenance", NOW) == []
    assert pin_problems("vpn", None, "alice", "maintenance", NOW) == []


def test_every_problem_of_a_bad_request_is_listed():
    problems = pin_problems("both", NOW - 30, " ", "x" * 300, NOW)
    assert problems == [
        "path must be one of dx|vpn, got 'both'",
        "until must be in the future, got 1799999970.0 (30 s ago)",
        "who must be a non-empty text",
        "why must be at most 256 characters, got 300",
    ]
    assert pin_problems("dx", None, "alice", None, NOW) == ["why must be a non-empty text"]


def test_until_comes_from_epoch_iso_or_duration():
    assert requested_until(None, None, NOW) == (None, [])
    assert requested_until("1800000600", None, NOW) == (1800000600.0, [])
    assert requested_until("2027-01-15T08:00:00Z", None, NOW) == (NOW, []), "NOW is 2027-01-15T08:00:00Z"
    assert requested_until("2027-01-15T08:00:00", None, NOW)[0] == requested_until("2027-01-15T10:00:00+02:00", None, NOW)[0]
    assert requested_until(None, 900, NOW) == (NOW + 900, [])


@pytest.mark.parametrize("until, duration_s, problem", [
    ("tomorrow", None, "until must be epoch seconds or an ISO-8601 time"),
    ("1800000600", 60, "give until or duration_s, not both"),
    (None, 0, "duration_s must be a positive number"),
    (None, True, "duration_s must be a positive number"),
])
def test_a_bad_until_is_a_problem(until, duration_s, problem):
    value, problems = requested_until(until, duration_s, NOW)
    assert value is None and len(problems) == 1 and problems[0].startswith(problem)


def test_group_status_shows_the_holder_the_pin_and_every_view():
    pin = Pin(path="vpn", until=NOW + 120, who="alice", why="DX maintenance", set_at=NOW - 10)
    items = [view_item("mon-b", "standby", "failed", "vpn", NOW - 0.5), lease_item(), pin.to_item(GROUP), view_item("mon-a", "holder")]
    status = group_status(items, NOW)
    assert status["lease"] == {"holder": "mon-a", "fencing": 3, "expires_in_s": 5.0, "live": True}
    assert status["pin"] == {"path": "vpn", "until": NOW + 120, "who": "alice", "why": "DX maintenance", "set_at": NOW - 10,
                             "remaining_s": 120.0, "in_force": True}
    assert status["monitors"] == [
        {"monitor_id": "mon-a", "role": "holder", "dx_state": "healthy", "desired_path": "dx", "age_s": 1.5},
        {"monitor_id": "mon-b", "role": "standby", "dx_state": "failed", "desired_path": "vpn", "age_s": 0.5},
    ]


def test_group_status_of_an_empty_group_and_an_expired_lease():
    assert group_status([], NOW) == {"lease": None, "pin": None, "monitors": []}
    expired = group_status([lease_item(expires_at=NOW - 2)], NOW)["lease"]
    assert expired["live"] is False and expired["expires_in_s"] == -2.0


def test_the_live_holder_is_its_view_with_the_fencing():
    items = [lease_item(), view_item("mon-b", "standby"), view_item("mon-a", "holder", desired_path="vpn")]
    assert live_holder(group_status(items, NOW)) == {"monitor_id": "mon-a", "role": "holder", "dx_state": "healthy", "desired_path": "vpn",
                                                     "age_s": 1.5, "fencing": 3}
    assert live_holder(group_status([lease_item(holder="mon-c")], NOW))["desired_path"] is None, "a holder without a view yet"
    assert live_holder(group_status([lease_item(expires_at=NOW)], NOW)) is None, "an expired lease has no holder"
    assert live_holder(group_status([], NOW)) is None


def test_a_monitor_reports_a_pin_once_when_it_comes_into_force_and_once_when_it_ends():
    pin = Pin(path="vpn", until=NOW + 60, who="alice", why="DX maintenance", set_at=NOW)
    records = [lease_item(), pin.to_item(GROUP)]
    followed, event, fields = pin_change(None, records, NOW)
    assert (followed, event) == (pin, events.PIN_IN_FORCE)
    assert fields == {"path": "vpn", "until": NOW + 60, "who": "alice", "why": "DX maintenance"}
    assert pin_change(followed, records, NOW + 1) == (pin, None, {}), "the same pin is reported once"

    followed, event, fields = pin_change(pin, records, NOW + 60)
    assert (followed, event, fields["reason"]) == (None, events.PIN_ENDED, "expired")
    assert pin_change(None, records, NOW + 61) == (None, None, {})


def test_a_released_or_replaced_pin_is_reported():
    pin = Pin(path="vpn", until=None, who="alice", why="a", set_at=NOW)
    followed, event, fields = pin_change(pin, [lease_item()], NOW)
    assert (followed, event, fields["reason"], fields["who"]) == (None, events.PIN_ENDED, "released", "alice")
    other = Pin(path="dx", until=None, who="bob", why="b", set_at=NOW + 5)
    assert pin_change(pin, [other.to_item(GROUP)], NOW + 5)[:2] == (other, events.PIN_IN_FORCE)
