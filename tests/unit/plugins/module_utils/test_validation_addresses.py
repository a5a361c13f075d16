"""The customer gateway address rule and the instance type offering check (validation.py and their filters)."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.filter.instance_type_problems import FilterModule as InstanceTypeFilters
from ansible_collections.localzones.failover.plugins.filter.public_ipv4_problems import FilterModule as AddressFilters
from ansible_collections.localzones.failover.plugins.module_utils.validation import instance_type_problem
from ansible_collections.localzones.failover.plugins.module_utils.validation import public_ipv4_problem

SETTING = "vpn_appliance_customer_gateway_address"


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "52.95.110.1", "203.0.114.1", "198.20.0.1", " 8.8.4.4 "])
def test_public_unicast_ipv4_passes(address):
    assert public_ipv4_problem(address, SETTING) is None


@pytest.mark.parametrize("address, words", [
    ("10.1.2.3", "10.0.0.0/8, private (RFC 1918)"),
    ("172.31.255.254", "172.16.0.0/12, private"),
    ("192.168.0.1", "192.168.0.0/16, private"),
    ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.5", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("0.0.0.0", "'this network'"),
    ("198.18.0.1", "198.18.0.0/15, benchmark space"),
    ("198.19.251.2", "198.18.0.0/15, benchmark space"),
    ("192.0.2.10", "documentation"),
    ("203.0.113.5", "documentation"),
    ("2001:db8::1", "an IPv6 address"),
    ("::ffff:8.8.8.8", "an IPv6 address"),
    ("garbage", "is not an IPv4 address"),
    ("8.8.8", "is not an IPv4 address"),
    ("8.8.8.8/32", "a network, not an address"),
    ("", "is not set"),
    (None, "is not set"),
    (12345, "is not an IPv4 address"),
])
def test_anything_else_is_named_with_the_reason(address, words):
    problem = public_ipv4_problem(address, SETTING)
    assert problem and problem.startswith(SETTING) and words in problem, problem


def test_the_lab_exemption_admits_only_the_benchmark_space():
    assert public_ipv4_problem("198.19.251.2", SETTING, allow_benchmark=True) is None
    for address in ("10.0.0.1", "127.0.0.1", "224.0.0.1", "192.0.2.1", "2001:db8::1"):
        assert public_ipv4_problem(address, SETTING, allow_benchmark=True), address


def test_the_filters_return_lists_to_add_to_other_problems():
    address = AddressFilters().filters()["public_ipv4_problems"]
    assert address("8.8.8.8", SETTING) == []
    assert address("198.19.251.2", SETTING, True) == []
    assert len(address("10.0.0.1", SETTING)) == 1
    offered = InstanceTypeFilters().filters()["instance_type_problems"]
    zone = {"zone_name": "us-east-1-bos-1a", "zone_type": "local-zone", "instance_types": ["t3.xlarge", "t3.medium"]}
    assert offered(zone, "t3.medium", "x") == []
    assert offered(zone, "t2.micro", "my_type") == [
        "The instance type t2.micro is not offered in the Local Zone us-east-1-bos-1a. It offers t3.medium, t3.xlarge: set my_type to one of them."]


def test_a_zone_without_offerings_says_so():
    assert instance_type_problem({"zone_name": "z", "zone_type": "availability-zone"}, "t3.medium", "x") == (
        "The instance type t3.medium is not offered in the zone z. It offers no instance types: set x to one of them.")
