# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning a prefix list's change, and waiting for EC2 to settle it (no endpoint; well under a second)."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import MAX_ENTRIES_PER_MODIFY
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import plan_prefix_list
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import validate_prefix_list_inputs
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import wait_until_settled
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError

PL = "pl-0123456789abcdef0"
OURS = [{"Key": "localzones.failover/role", "Value": "on-prem-destinations"}]


def current(max_entries, family="IPv4"):
    return {"PrefixListId": PL, "PrefixListName": "on-prem", "AddressFamily": family, "MaxEntries": max_entries, "Version": 3, "Tags": OURS}


def networks(count, second_octet=0):
    return ["10.%d.%d.0/24" % (second_octet, index) for index in range(count)]


def test_more_than_a_modify_can_carry_is_split_and_the_list_grows_first():
    wanted = networks(250)
    steps = plan_prefix_list(current(10), tuple(networks(10, second_octet=1)), "on-prem", wanted, "IPv4", 250, {})
    assert steps[0] == {"step": "resize", "max_entries": 250, "previous_max_entries": 10}
    modifies = steps[1:]
    assert [len(step["add"]) for step in modifies] == [100, 100, 50] and [len(step["remove"]) for step in modifies] == [10, 0, 0]
    assert all(len(step["add"]) <= MAX_ENTRIES_PER_MODIFY for step in modifies)
    assert sum((step["add"] for step in modifies), []) == wanted


def test_a_list_that_already_holds_the_entries_needs_nothing_but_missing_tags():
    assert plan_prefix_list(current(1), ("10.0.0.0/24",), "on-prem", ["10.0.0.0/24"], "IPv4", 1, {}) == []
    assert plan_prefix_list(current(1), ("10.0.0.0/24",), "on-prem", ["10.0.0.0/24"], "IPv4", 1, {"Name": "x"}) == [
        {"step": "tag", "tags": {"Name": "x"}}]


def test_the_address_family_of_an_existing_list_cannot_change():
    with pytest.raises(ValidationError, match="cannot change a list's address family"):
        plan_prefix_list(current(1), ("10.0.0.0/24",), "on-prem", ["2001:db8::/32"], "IPv6", 1, {})


def test_inputs_come_back_canonical_with_their_family_and_the_default_maximum():
    assert validate_prefix_list_inputs("on-prem", ["2001:DB8::/32", "2001:db8::/32"]) == (["2001:db8::/32"], "IPv6", 1)
    with pytest.raises(ValidationError) as raised:
        validate_prefix_list_inputs("", [])
    assert len(raised.value.problems) == 2


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def describe_answer(state, message=None):
    prefix_list = dict(current(1), State=state)
    if message:
        prefix_list["StateMessage"] = message
    return {"PrefixLists": [prefix_list]}


def test_waiting_ends_when_the_change_is_complete(stubbed_client):
    client, stubber = stubbed_client("ec2")
    for state in ("modify-in-progress", "modify-in-progress", "modify-complete"):
        stubber.add_response("describe_managed_prefix_lists", describe_answer(state))
    clock = Clock()
    assert wait_until_settled(client, PL, timeout_s=60, poll_s=2, clock=clock, sleep=clock.sleep)["State"] == "modify-complete"
    assert clock.now == 4


def test_a_failed_change_is_an_error_with_ec2s_reason(stubbed_client):
    client, stubber = stubbed_client("ec2")
    stubber.add_response("describe_managed_prefix_lists", describe_answer("modify-failed", "rtb-1 has no room for 3 routes"))
    with pytest.raises(FailoverError, match="modify-failed: rtb-1 has no room for 3 routes"):
        wait_until_settled(client, PL, timeout_s=60, clock=Clock(), sleep=lambda seconds: None)


def test_a_change_still_in_progress_at_the_deadline_is_an_error(stubbed_client):
    client, stubber = stubbed_client("ec2")
    for state in ("modify-in-progress",) * 4:
        stubber.add_response("describe_managed_prefix_lists", describe_answer(state))
    clock = Clock()
    with pytest.raises(FailoverError, match="still modify-in-progress after 6 s"):
        wait_until_settled(client, PL, timeout_s=6, poll_s=2, clock=clock, sleep=clock.sleep)
