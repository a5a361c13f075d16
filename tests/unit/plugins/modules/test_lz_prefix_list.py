# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lz_prefix_list against the local EC2 endpoint: create, converge, refuse what is not ours, delete.

The module runs in-process with a stand-in for AnsibleAWSModule whose client is
a boto3 client of the fidelity server, so every EC2 call is real (moto plus the
endpoint's prefix-list behaviour); the bad inputs run with a client that may make no
call at all. About 10 s for the file (each endpoint test resets the server).
"""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import read_prefix_list
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import read_prefix_list_entries
from ansible_collections.localzones.failover.plugins.modules import lz_prefix_list
from tests.unit.plugins.modules import test_aws_failures

pytestmark = pytest.mark.moto

NAME = "lz-failover-on-prem"
OUR_TAG = {"Key": "localzones.failover/role", "Value": "on-prem-destinations"}


class Finished(Exception):
    """What the stand-in's exit_json and fail_json raise, carrying the task's result."""

    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


class StandInAWSModule(test_aws_failures.StandInAWSModule):
    """The AWS failures' stand-in, which also runs in check mode, keeps warnings and ends in success too."""

    check_mode_for_test = False

    def __init__(self, argument_spec, supports_check_mode=False, **module_options):
        super().__init__(argument_spec, supports_check_mode, **module_options)
        self.check_mode = self.check_mode_for_test
        self._diff = True
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)

    def exit_json(self, **result):
        raise Finished(dict(result, warnings=self.warnings), failed=False)

    def fail_json(self, **failure):
        raise Finished(failure, failed=True)


def module_runner(monkeypatch, module, **defaults):
    """``run(client, check_mode=False, **params)``: ``module``'s task result with ``StandInAWSModule`` (``failed`` says whether it failed).

    ``defaults`` are the options every run passes unless ``params`` overrides them.
    """
    monkeypatch.setattr(module, "AnsibleAWSModule", StandInAWSModule)

    def run(client, check_mode=False, **params):
        monkeypatch.setattr(StandInAWSModule, "params_for_test", dict(defaults, **params))
        monkeypatch.setattr(StandInAWSModule, "client_for_test", client)
        monkeypatch.setattr(StandInAWSModule, "check_mode_for_test", check_mode)
        with pytest.raises(Finished) as finished:
            module.main()
        return dict(finished.value.result, failed=finished.value.failed)

    return run


@pytest.fixture
def run_with_client(monkeypatch):
    """``run_with_client(client, check_mode=False, **params)``: the task's result (``failed`` says whether it failed)."""
    return module_runner(monkeypatch, lz_prefix_list, name=NAME)


@pytest.fixture
def run_module(run_with_client, ec2):
    """The module against the local endpoint."""
    return lambda check_mode=False, **params: run_with_client(ec2, check_mode, **params)


def mutations(ec2):
    """Every prefix list in the account that is not AWS-managed, with its entries: what a refused task must leave alone."""
    lists = ec2.describe_managed_prefix_lists()["PrefixLists"]
    return sorted((item["PrefixListId"], item.get("Version"), read_prefix_list_entries(ec2, item["PrefixListId"]))
                  for item in lists if item.get("OwnerId") != "AWS" and item.get("State") != "delete-complete")


def test_creates_the_list_tagged_with_the_entries_and_the_smallest_maximum(run_module, ec2):
    result = run_module(entries=["192.168.0.0/16", "172.20.0.0/16"], tags={"Name": "on-prem"})
    assert not result["failed"] and result["changed"]
    created = read_prefix_list(ec2, result["prefix_list_id"])
    assert created["AddressFamily"] == "IPv4" and created["MaxEntries"] == 2 and created["PrefixListName"] == NAME
    assert OUR_TAG in created["Tags"] and {"Key": "Name", "Value": "on-prem"} in created["Tags"]
    assert sorted(read_prefix_list_entries(ec2, result["prefix_list_id"])) == ["172.20.0.0/16", "192.168.0.0/16"]
    assert (result["entries"], result["max_entries"]) == (["192.168.0.0/16", "172.20.0.0/16"], 2)


def test_a_second_run_changes_nothing(run_module):
    first = run_module(entries=["192.168.0.0/16"])
    again = run_module(entries=["192.168.0.0/16"])
    assert (again["changed"], again["actions"], again["prefix_list_id"]) == (False, [], first["prefix_list_id"])


def test_changes_the_entries_of_its_own_list_growing_the_maximum_first(run_module, ec2):
    first = run_module(entries=["192.168.0.0/16"])
    result = run_module(entries=["192.168.0.0/16", "172.20.0.0/16", "10.99.0.0/16"])
    assert [action["step"] for action in result["actions"]] == ["resize", "modify-entries"]
    assert result["prefix_list_id"] == first["prefix_list_id"] and result["version"] > first["version"]
    assert sorted(read_prefix_list_entries(ec2, first["prefix_list_id"])) == ["10.99.0.0/16", "172.20.0.0/16", "192.168.0.0/16"]
    assert read_prefix_list(ec2, first["prefix_list_id"])["MaxEntries"] == 3


def test_removes_entries_then_shrinks_the_maximum(run_module, ec2):
    first = run_module(entries=["192.168.0.0/16", "172.20.0.0/16"])
    result = run_module(entries=["172.20.0.0/16"])
    assert result["actions"] == [{"step": "modify-entries", "add": [], "remove": ["192.168.0.0/16"]},
                                 {"step": "resize", "max_entries": 1, "previous_max_entries": 2}]
    assert read_prefix_list_entries(ec2, first["prefix_list_id"]) == ("172.20.0.0/16",)


def test_check_mode_plans_and_diffs_without_a_call_that_changes(run_module, ec2):
    first = run_module(entries=["192.168.0.0/16"])
    before = mutations(ec2)
    result = run_module(check_mode=True, entries=["192.168.0.0/16", "172.20.0.0/16"], max_entries=4)
    assert result["changed"] and mutations(ec2) == before
    assert result["diff"]["before"]["entries"] == ["192.168.0.0/16"]
    assert result["diff"]["after"] == {"prefix_list_id": first["prefix_list_id"], "entries": ["192.168.0.0/16", "172.20.0.0/16"], "max_entries": 4}


def test_refuses_a_list_of_that_name_it_did_not_create(run_module, ec2):
    foreign = ec2.create_managed_prefix_list(PrefixListName=NAME, MaxEntries=2, AddressFamily="IPv4",
                                             Entries=[{"Cidr": "10.1.0.0/16"}])["PrefixList"]["PrefixListId"]
    before = mutations(ec2)
    result = run_module(entries=["192.168.0.0/16"])
    assert result["failed"] and foreign in result["msg"] and "did not create" in result["msg"]
    absent = run_module(state="absent")
    assert not absent["failed"] and not absent["changed"] and any(foreign in warning for warning in absent["warnings"])
    assert mutations(ec2) == before


@pytest.mark.parametrize("params, problems", [
    (dict(entries=["192.168.0.0/16", "2001:db8::/32"]), ["mix IPv4 and IPv6"]),
    (dict(entries=["192.168.0.0/16", "172.20.0.0/16"], max_entries=1), ["max_entries is 1, fewer than the 2 entries"]),
    (dict(entries=["192.168.0.1/16", "not-a-cidr"]), ["host bits set; did you mean 192.168.0.0/16", "'not-a-cidr' is not a CIDR block"]),
    (dict(name="com.amazonaws.mine", entries=["192.168.0.0/16"]), ["reserved for AWS-managed"]),
])
def test_a_bad_input_is_one_error_naming_every_problem_before_any_call(run_with_client, stubbed_client, params, problems):
    """The client has no answers scripted: any call at all would fail the test with botocore's stub error."""
    client, _stubber = stubbed_client("ec2")
    result = run_with_client(client, **params)
    assert result["failed"] and all(problem in result["msg"] for problem in problems), result["msg"]


def test_absent_deletes_its_own_list(run_module, ec2):
    created = run_module(entries=["192.168.0.0/16"])
    result = run_module(state="absent")
    assert result["changed"] and result["actions"] == [{"step": "delete", "prefix_list_id": created["prefix_list_id"]}]
    assert created["prefix_list_id"] not in [item[0] for item in mutations(ec2)]
    assert run_module(state="absent")["changed"] is False


def test_quota_refusal_is_reported_with_ec2s_words(monkeypatch, run_with_client, stubbed_client):
    """The endpoint knows no prefix-list quota: EC2's refusal is raised where the create would run."""
    client, stubber = stubbed_client("ec2")
    stubber.add_response("describe_managed_prefix_lists", {"PrefixLists": []})

    def refuse(*_args, **_kwargs):
        raise AwsApiError("EC2", "CreateManagedPrefixList", "PrefixListLimitExceeded", "The maximum number of prefix lists has been reached.")

    monkeypatch.setattr(lz_prefix_list, "execute_prefix_list_plan", refuse)
    result = run_with_client(client, entries=["192.168.0.0/16"])
    assert result["failed"] and result["code"] == "PrefixListLimitExceeded"
    assert "The maximum number of prefix lists has been reached" in result["msg"] and "AWS Support" in result["msg"]
