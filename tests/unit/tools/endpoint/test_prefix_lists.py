# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer-managed prefix lists as EC2 keeps them (tools/endpoint/prefix_lists.py). About 2 s for the file."""

from __future__ import annotations

import pytest

from tests.unit.tools.endpoint.ec2_calls import api_error

pytestmark = pytest.mark.moto


def create(ec2, entries=("192.168.0.0/16",), max_entries=2, name="on-prem"):
    return ec2.create_managed_prefix_list(PrefixListName=name, MaxEntries=max_entries, AddressFamily="IPv4",
                                          Entries=[{"Cidr": cidr} for cidr in entries])["PrefixList"]


def refusal(call, **params):
    """The error code the endpoint answered the call with."""
    return api_error(call, **params).code


def entries_of(ec2, prefix_list_id):
    return sorted(entry["Cidr"] for entry in ec2.get_managed_prefix_list_entries(PrefixListId=prefix_list_id)["Entries"])


def test_a_modify_against_a_stale_version_is_refused_and_changes_nothing(ec2):
    created = create(ec2)
    ec2.modify_managed_prefix_list(PrefixListId=created["PrefixListId"], CurrentVersion=1, AddEntries=[{"Cidr": "172.20.0.0/16"}])
    code = refusal(ec2.modify_managed_prefix_list, PrefixListId=created["PrefixListId"], CurrentVersion=1,
                   RemoveEntries=[{"Cidr": "172.20.0.0/16"}])
    assert code == "InvalidParameterValue"
    assert entries_of(ec2, created["PrefixListId"]) == ["172.20.0.0/16", "192.168.0.0/16"]


def test_entries_and_maximum_are_never_changed_in_one_request(ec2):
    created = create(ec2)
    code = refusal(ec2.modify_managed_prefix_list, PrefixListId=created["PrefixListId"], CurrentVersion=1, MaxEntries=5,
                   AddEntries=[{"Cidr": "172.20.0.0/16"}])
    assert code == "InvalidParameterCombination"


def test_a_list_never_holds_more_entries_than_its_maximum(ec2):
    assert refusal(create, ec2=ec2, entries=("10.1.0.0/16", "10.2.0.0/16"), max_entries=1) == "InvalidParameterValue"
    created = create(ec2, max_entries=1)
    code = refusal(ec2.modify_managed_prefix_list, PrefixListId=created["PrefixListId"], CurrentVersion=1, AddEntries=[{"Cidr": "10.3.0.0/16"}])
    assert code == "InvalidParameterValue"
    assert refusal(ec2.modify_managed_prefix_list, PrefixListId=created["PrefixListId"], MaxEntries=0) == "InvalidParameterValue"


def test_the_maximum_changes_alone_and_the_name_stays(ec2):
    created = create(ec2)
    ec2.modify_managed_prefix_list(PrefixListId=created["PrefixListId"], MaxEntries=4)
    described = ec2.describe_managed_prefix_lists(PrefixListIds=[created["PrefixListId"]])["PrefixLists"][0]
    assert (described["MaxEntries"], described["PrefixListName"], described["Version"]) == (4, "on-prem", 1)


def test_the_entries_of_a_list_that_does_not_exist_are_an_error(ec2):
    assert refusal(ec2.get_managed_prefix_list_entries, PrefixListId="pl-0123456789abcdef0") == "InvalidPrefixListID.NotFound"
