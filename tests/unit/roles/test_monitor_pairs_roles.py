# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitors in pairs, as the roles provision them: the IAM policy, the utility instances, the monitor's config.

Each role's variables are templated by Ansible itself (tests/support/role_vars.py: one
ansible-playbook per role, every scenario in it), from the inventory variables a user
sets: ``lz_failover_coordination_table``, ``lz_failover_coordination_group``,
``utility_instance_count``. The table itself is lz_coordination_table's
(tests/unit/plugins/modules/test_lz_coordination_table.py).
"""

from __future__ import annotations

import json
import os
import warnings

import yaml

from harness.paths import REPO_ROOT
from tests.support.role_vars import role_values

with warnings.catch_warnings():
    # parliament imports pkg_resources, which warns about its own deprecation.
    warnings.simplefilter("ignore", UserWarning)
    from parliament import analyze_policy_string

ACCOUNT = "123456789012"
TABLE = "lz-coordination"
ITEM_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
INVENTORY = {
    "lz_failover_name": "lz-test",
    "lz_failover_region": "us-east-1",
    "lz_failover_route_table_ids": ["rtb-0123456789abcdef0"],
    "lz_failover_destination_cidrs": ["198.19.0.0/24"],
    "lz_failover_vpn_eni_id": "eni-0123456789abcdef0",
    "lz_failover_probe_targets": ["198.19.0.10"],
}
# What failover_iam's validate.yml registers from STS.
CALLER = {"__failover_iam_caller": {"account": ACCOUNT, "arn": "arn:aws:sts::%s:assumed-role/deployer/session" % ACCOUNT}}


def coordination_statements(policy):
    return [statement for statement in policy["Statement"] if any(action.startswith("dynamodb:") for action in statement["Action"])]


def test_the_monitor_may_touch_only_its_own_groups_items_in_the_table_and_nothing_without_one():
    with_table, other_group, without, bad_name = role_values(
        "failover_iam", ["__failover_iam_policy", "__failover_iam_setting_problems"],
        dict(INVENTORY, lz_failover_coordination_table=TABLE, **CALLER),
        dict(INVENTORY, lz_failover_coordination_table=TABLE, lz_failover_coordination_group="bos-prod", **CALLER),
        dict(INVENTORY, **CALLER),
        dict(INVENTORY, lz_failover_coordination_table="no spaces", **CALLER),
    )
    assert coordination_statements(with_table["__failover_iam_policy"]) == [{
        "Sid": "CoordinateTheFailoverGroup",
        "Effect": "Allow",
        "Action": ITEM_ACTIONS,
        "Resource": "arn:aws:dynamodb:us-east-1:%s:table/%s" % (ACCOUNT, TABLE),
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["lz-test"]}},
    }]
    assert with_table["__failover_iam_setting_problems"] == []
    assert analyze_policy_string(json.dumps(with_table["__failover_iam_policy"]), include_community_auditors=True).findings == []
    assert coordination_statements(other_group["__failover_iam_policy"])[0]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["bos-prod"]}}
    # Without a table the policy is today's.
    assert coordination_statements(without["__failover_iam_policy"]) == []
    assert [statement["Sid"] for statement in without["__failover_iam_policy"]["Statement"]] == ["MoveManagedRoutes", "ReadRouteTablesAndInterfaces"]
    assert any("not a DynamoDB table name" in problem for problem in bad_name["__failover_iam_setting_problems"])


def test_each_utility_instance_has_its_own_name_and_the_first_keeps_the_single_ones():
    inventory = dict(INVENTORY, lz_failover_probe_subnet_id="subnet-0123456789abcdef0")
    one, two, none_at_all, pinned_pair, pair_without_table = role_values(
        "utility_instance", ["__utility_instance_host_names", "__utility_instance_setting_problems"],
        inventory,
        dict(inventory, utility_instance_count=2, lz_failover_coordination_table=TABLE),
        dict(inventory, utility_instance_count=0),
        dict(inventory, utility_instance_count=2, lz_failover_coordination_table=TABLE, utility_instance_private_ip="10.0.2.10"),
        dict(inventory, utility_instance_count=2),
    )
    assert (one["__utility_instance_host_names"], one["__utility_instance_setting_problems"]) == (["lz-test-utility"], [])
    assert (two["__utility_instance_host_names"], two["__utility_instance_setting_problems"]) == (["lz-test-utility", "lz-test-utility-2"], [])
    assert [problem.split(" ")[0] for problem in none_at_all["__utility_instance_setting_problems"]] == ["utility_instance_count"]
    assert [problem.split(" ")[0] for problem in pinned_pair["__utility_instance_setting_problems"]] == ["utility_instance_private_ip"]
    # Two monitors without a lease would both move the routes: refused before any change.
    assert [problem.split(" ")[0] for problem in pair_without_table["__utility_instance_setting_problems"]] == ["utility_instance_count"]
    assert "needs lz_failover_coordination_table" in pair_without_table["__utility_instance_setting_problems"][0]


def test_the_monitor_config_names_the_table_the_group_and_the_host_and_without_a_table_coordinates_nothing():
    template = os.path.join(REPO_ROOT, "roles", "monitor", "templates", "config.yml.j2")
    rendered = "lookup('ansible.builtin.template', '%s')" % template
    paired, own_group, tuned, alone = role_values(
        "monitor", [rendered],
        dict(INVENTORY, lz_failover_coordination_table=TABLE),
        dict(INVENTORY, lz_failover_coordination_table=TABLE, lz_failover_coordination_group="bos-prod"),
        dict(INVENTORY, lz_failover_coordination_table=TABLE, monitor_config={"coordination": {"lease_s": 12, "monitor_id": "a"}}),
        dict(INVENTORY),
    )
    coordination = [yaml.safe_load(result[rendered])["coordination"] for result in (paired, own_group, tuned, alone)]
    # The inventory host name (here the play's localhost) tells the two monitors of a pair apart.
    assert coordination[0] == {"table": TABLE, "failover_group": "lz-test", "monitor_id": "localhost", "lease_s": 8.0,
                               "renew_interval_s": 1.0, "max_clock_skew_s": 1.0, "region": None, "endpoint_url": None}
    assert coordination[1]["failover_group"] == "bos-prod"
    assert (coordination[2]["lease_s"], coordination[2]["monitor_id"]) == (12.0, "a")
    assert coordination[3] == dict(coordination[0], table=None, failover_group=None, monitor_id=None)


def test_on_aws_the_monitor_reaches_dynamodb_through_the_endpoint_provision_made_and_elsewhere_through_the_collections():
    template = os.path.join(REPO_ROOT, "roles", "monitor", "templates", "config.yml.j2")
    rendered = "lookup('ansible.builtin.template', '%s')" % template
    url = "https://vpce-0123456789abcdef0-abcd1234.dynamodb.us-east-1.vpce.amazonaws.com"
    results = role_values(
        "monitor", [rendered],
        dict(INVENTORY, lz_failover_coordination_table=TABLE, lz_failover_dynamodb_endpoint_url=url),
        # The lab (or any endpoint of the collection's own): DynamoDB through that endpoint, as EC2.
        dict(INVENTORY, lz_failover_coordination_table=TABLE, lz_failover_dynamodb_endpoint_url=url,
             lz_failover_aws={"endpoint_url": "http://198.18.255.1:5055"}),
        dict(INVENTORY, lz_failover_dynamodb_endpoint_url=url),
        # An existing network without a provisioned endpoint (the inventory's default, empty).
        dict(INVENTORY, lz_failover_coordination_table=TABLE, lz_failover_dynamodb_endpoint_url=""),
        dict(INVENTORY, lz_failover_coordination_table=TABLE, lz_failover_dynamodb_endpoint_url=url,
             monitor_config={"coordination": {"endpoint_url": "https://dynamodb.example.internal"}}),
    )
    configs = [yaml.safe_load(result[rendered]) for result in results]
    assert [config["coordination"]["endpoint_url"] for config in configs] == [url, None, None, None, "https://dynamodb.example.internal"]
    # EC2 stays on its own path (the private DNS of the EC2 endpoint on AWS, the lab's endpoint there).
    assert [config["endpoint_url"] for config in configs[:2]] == [None, "http://198.18.255.1:5055"]


def test_the_network_role_publishes_the_dynamodb_endpoints_regional_name_not_a_zones_or_the_services():
    regional = "vpce-0123456789abcdef0-abcd1234.dynamodb.us-east-1.vpce.amazonaws.com"
    entries = [{"dns_name": name, "hosted_zone_id": "Z1HUB23UULQXV"} for name in (
        "vpce-0123456789abcdef0-abcd1234-us-east-1a.dynamodb.us-east-1.vpce.amazonaws.com", regional, "dynamodb.us-east-1.amazonaws.com")]
    made, skipped = role_values(
        "network", ["__network_dynamodb_endpoint_dns_name"],
        {"__network_dynamodb_endpoint": {"changed": True, "result": {"vpc_endpoint_id": "vpce-0123456789abcdef0", "dns_entries": entries}}},
        {"__network_dynamodb_endpoint": {"changed": False, "skipped": True}},
    )
    assert (made["__network_dynamodb_endpoint_dns_name"], skipped["__network_dynamodb_endpoint_dns_name"]) == (regional, "")
