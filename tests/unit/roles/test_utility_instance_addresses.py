# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixed private addresses for monitors in pairs: ``utility_instance_private_ips``, one per instance.

The role's variables are templated by Ansible itself (tests/support/role_vars.py), from the
inventory values a user sets, among them the lab inventory's own (two utility hosts at the
addresses of lab/topology.py). ``__utility_instance_private_ip_by_host`` is what the launch
task gives each instance (by its Name) as its interface's address.
"""

from __future__ import annotations

import os

import yaml

from harness.paths import REPO_ROOT
from lab import topology as topo
from tests.support.role_vars import role_values

TABLE = "lz-coordination"
INVENTORY = {
    "lz_failover_name": "lz-test",
    "lz_failover_region": "us-east-1",
    "lz_failover_probe_targets": ["198.19.0.10"],
    "lz_failover_probe_subnet_id": "subnet-0123456789abcdef0",
}
PAIR = dict(INVENTORY, utility_instance_count=2, lz_failover_coordination_table=TABLE)
EXPRESSIONS = ["__utility_instance_private_ip_by_host", "__utility_instance_setting_problems"]


def lab_inventory_values():
    """The lab inventory's settings for the utility instances, with the address plan they refer to."""
    values = {}
    for name in ("lab.yml", "failover.yml"):
        with open(os.path.join(REPO_ROOT, "inventories", "lab", "group_vars", "all", name), encoding="utf-8") as handle:
            values.update(yaml.safe_load(handle))
    wanted = ("utility_instance_count", "utility_instance_private_ips", "lz_failover_coordination_table",
              "lz_lab_utility_address", "lz_lab_utility_2_address")
    return dict(INVENTORY, lz_failover_name="lz-failover", **{name: values[name] for name in wanted})


def first_words(result):
    return [problem.split(" ")[0] for problem in result["__utility_instance_setting_problems"]]


def test_each_instance_of_a_pair_gets_its_own_fixed_address_in_index_order_and_a_single_one_keeps_its_own():
    pair, lab, single, none_given = role_values(
        "utility_instance", EXPRESSIONS,
        dict(PAIR, utility_instance_private_ips=["10.0.2.10", "10.0.2.11"]),
        lab_inventory_values(),
        dict(INVENTORY, utility_instance_private_ip="10.0.2.10"),
        PAIR,
    )
    assert pair == {"__utility_instance_private_ip_by_host": {"lz-test-utility": "10.0.2.10", "lz-test-utility-2": "10.0.2.11"},
                    "__utility_instance_setting_problems": []}
    # The lab: the two containers' addresses (lz_lab_machine_by_address maps them back to utility and utility-2).
    assert lab == {"__utility_instance_private_ip_by_host": {"lz-failover-utility": topo.subnet_host("utility").address,
                                                             "lz-failover-utility-2": topo.subnet_host("utility-2").address},
                   "__utility_instance_setting_problems": []}
    assert single == {"__utility_instance_private_ip_by_host": {"lz-test-utility": "10.0.2.10"}, "__utility_instance_setting_problems": []}
    assert none_given == {"__utility_instance_private_ip_by_host": {}, "__utility_instance_setting_problems": []}


def test_addresses_that_do_not_fit_the_count_or_repeat_or_are_not_ipv4_are_refused_before_any_change():
    too_few, too_many, twice, both, not_ipv4, one_for_two = role_values(
        "utility_instance", EXPRESSIONS,
        dict(PAIR, utility_instance_private_ips=["10.0.2.10"]),
        dict(PAIR, utility_instance_private_ips=["10.0.2.10", "10.0.2.11", "10.0.2.12"]),
        dict(PAIR, utility_instance_private_ips=["10.0.2.10", "10.0.2.10"]),
        dict(INVENTORY, utility_instance_private_ip="10.0.2.10", utility_instance_private_ips=["10.0.2.10"]),
        dict(PAIR, utility_instance_private_ips=["10.0.2.10", "utility-2"]),
        dict(PAIR, utility_instance_private_ip="10.0.2.10"),
    )
    assert first_words(too_few) == first_words(too_many) == ["utility_instance_private_ips"]
    assert "has 1 addresses for utility_instance_count 2" in too_few["__utility_instance_setting_problems"][0]
    assert "lists an address twice" in twice["__utility_instance_setting_problems"][0] and len(first_words(twice)) == 1
    assert first_words(both) == ["utility_instance_private_ip"] and "set one" in both["__utility_instance_setting_problems"][0]
    assert not_ipv4["__utility_instance_setting_problems"] == ["utility_instance_private_ips must be IPv4 addresses, got utility-2."]
    # One address for two instances still points to the list.
    assert first_words(one_for_two) == ["utility_instance_private_ip"]
    assert "utility_instance_private_ips" in one_for_two["__utility_instance_setting_problems"][0]
