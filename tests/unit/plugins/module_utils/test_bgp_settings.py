"""Direct Connect's limits for the dx_router role's settings (bgp_settings.py and the dx_router_problems filter)."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.filter.dx_router_problems import FilterModule
from ansible_collections.localzones.failover.plugins.module_utils.bgp_settings import dx_router_problems

GOOD = {
    "dx_router_local_asn": 65000,
    "dx_router_amazon_asn": 64512,
    "dx_router_customer_address": "169.254.100.2/30",
    "dx_router_amazon_address": "169.254.100.1",
    "dx_router_interface": "eth1.101",
    "dx_router_announced_prefixes": ["10.20.0.0/16"],
    "dx_router_accepted_prefixes": [],
    "dx_router_hold_time": 90,
    "dx_router_keepalive_time": 30,
    "dx_router_bfd_enabled": True,
    "dx_router_bfd_min_tx_ms": 300,
    "dx_router_bfd_min_rx_ms": 300,
    "dx_router_bfd_multiplier": 3,
    "dx_router_md5_required": True,
    "md5_key_facts": {"length": 32, "quotable": True},
    "dx_router_bgp_name": "aws_dx",
    "dx_router_router_id": "169.254.100.2",
    "dx_router_connect_delay_time": 1,
    "dx_router_connect_retry_time": 2,
    "dx_router_error_wait_time_min": 1,
    "dx_router_error_wait_time_max": 16,
}


def problems_with(**changes):
    return dx_router_problems(dict(GOOD, **changes))


def test_direct_connect_defaults_pass():
    assert not dx_router_problems(GOOD)


def test_values_as_text_from_extra_vars_pass():
    assert not problems_with(dx_router_local_asn="65000", dx_router_hold_time="90", dx_router_bfd_enabled="true",
                             dx_router_amazon_address="169.254.100.1/30", md5_key_facts={"length": "32", "quotable": "True"})


@pytest.mark.parametrize("asn, ok", [(1, True), (2147483647, True), (4294967294, True), (0, False), (4294967295, False),
                                     (-5, False), ("x", False), (True, False), (None, False)])
def test_local_asn_range(asn, ok):
    problems = problems_with(dx_router_local_asn=asn)
    assert (not problems) == ok, problems
    assert ok or "dx_router_local_asn" in problems[0]


def test_equal_asns_are_refused():
    assert "eBGP" in " ".join(problems_with(dx_router_local_asn=64512))


@pytest.mark.parametrize("amazon, words", [
    ("169.254.101.1", "outside the link 169.254.100.0/30"),
    ("169.254.100.2", "is the local address itself"),
    ("169.254.100.3", "network or broadcast address"),
    ("169.254.100.1/29", "name different links"),
    ("2001:db8::1", "IPv4 address"),
    ("peer", "IPv4 address"),
])
def test_amazon_address_must_be_the_other_end_of_the_link(amazon, words):
    assert words in " ".join(problems_with(dx_router_amazon_address=amazon))


@pytest.mark.parametrize("customer", ["169.254.100.2", "169.254.100.2/33", "2001:db8::2/126", None])
def test_customer_address_needs_an_ipv4_prefix(customer):
    assert "dx_router_customer_address must be" in " ".join(problems_with(dx_router_customer_address=customer))


def test_a_slash_31_link_has_no_broadcast_to_refuse():
    assert not problems_with(dx_router_customer_address="169.254.100.0/31", dx_router_amazon_address="169.254.100.1")


@pytest.mark.parametrize("prefixes, words", [
    ([], "is empty"),
    (["10.20.0.1/16"], "these are not: 10.20.0.1/16"),
    (["10.20.0.0"], "these are not: 10.20.0.0"),
    (["2001:db8::/32"], "these are not: 2001:db8::/32"),
    ("10.20.0.0/16", "must be a list"),
])
def test_announced_prefixes_must_be_ipv4_networks(prefixes, words):
    assert words in " ".join(problems_with(dx_router_announced_prefixes=prefixes))


def test_accepted_prefixes_may_be_empty_but_not_hosts():
    assert "dx_router_accepted_prefixes" in " ".join(problems_with(dx_router_accepted_prefixes=["10.0.0.5/16"]))


@pytest.mark.parametrize("hold, keepalive, words", [
    (0, 30, "does not support a hold time of 0"),
    (2, 1, "dx_router_hold_time"),
    (65536, 30, "dx_router_hold_time"),
    (90, 90, "must be shorter than"),
    (90, 0, "dx_router_keepalive_time"),
])
def test_bgp_timers(hold, keepalive, words):
    assert words in " ".join(problems_with(dx_router_hold_time=hold, dx_router_keepalive_time=keepalive))


def test_bgp_minimum_timers_pass():
    assert not problems_with(dx_router_hold_time=3, dx_router_keepalive_time=1)


@pytest.mark.parametrize("setting, value", [("dx_router_bfd_min_tx_ms", 299), ("dx_router_bfd_min_rx_ms", 50),
                                            ("dx_router_bfd_multiplier", 2), ("dx_router_bfd_multiplier", 256)])
def test_bfd_below_what_direct_connect_accepts(setting, value):
    problems = problems_with(**{setting: value})
    assert len(problems) == 1 and problems[0].startswith(setting), problems


def test_bfd_settings_do_not_matter_when_bfd_is_off():
    assert not problems_with(dx_router_bfd_enabled=False, dx_router_bfd_min_tx_ms=10, dx_router_bfd_multiplier=1)


@pytest.mark.parametrize("required, facts, words", [
    (True, {"length": 0, "quotable": True}, "dx_router_md5_key is missing"),
    (True, {"length": 5, "quotable": True}, "6 to 80 characters"),
    (False, {"length": 81, "quotable": True}, "6 to 80 characters"),
    (True, {"length": 12, "quotable": False}, "without double quotes"),
])
def test_md5_key(required, facts, words):
    assert words in " ".join(problems_with(dx_router_md5_required=required, md5_key_facts=facts))


def test_no_key_is_fine_when_not_required():
    assert not problems_with(dx_router_md5_required=False, md5_key_facts={"length": 0, "quotable": True})


@pytest.mark.parametrize("name, ok", [("aws_dx", True), ("_dx2", True), ("DX_1", True), ("a" * 54, True),
                                      ("aws-dx", False), ("1dx", False), ("aws dx", False), ('dx"', False), ("", False),
                                      (None, False), ("a" * 55, False)])
def test_bgp_name_follows_birds_symbol_rules(name, ok):
    problems = problems_with(dx_router_bgp_name=name)
    assert (not problems) == ok, problems
    assert ok or problems[0].startswith("dx_router_bgp_name must be a BIRD name")


@pytest.mark.parametrize("router_id", ["169.254.100.2/30", "2001:db8::2", "router", "", None])
def test_router_id_must_be_an_ipv4_address(router_id):
    assert "dx_router_router_id must be an IPv4 address" in " ".join(problems_with(dx_router_router_id=router_id))


@pytest.mark.parametrize("interface", ['eth1"; }', "eth 1", "eth*", "eth1/2", "averyveryverylong0"])
def test_interface_names_that_bird_or_linux_would_not_take(interface):
    assert "dx_router_interface must be a Linux interface name" in " ".join(problems_with(dx_router_interface=interface))


@pytest.mark.parametrize("interface", ["eth1.101", "enp3s0f1", "dx0", "bond0:1", "vlan@eth0"])
def test_usual_interface_names_pass(interface):
    assert not problems_with(dx_router_interface=interface)


@pytest.mark.parametrize("changes, words", [
    ({"dx_router_connect_delay_time": 0}, "dx_router_connect_delay_time must be an integer from 1"),
    ({"dx_router_connect_retry_time": "soon"}, "dx_router_connect_retry_time must be an integer from 1"),
    ({"dx_router_error_wait_time_min": -1}, "dx_router_error_wait_time_min must be an integer from 1"),
    ({"dx_router_error_wait_time_max": 1.5}, "dx_router_error_wait_time_max must be an integer from 1"),
    ({"dx_router_error_wait_time_min": 20, "dx_router_error_wait_time_max": 16}, "must not exceed dx_router_error_wait_time_max 16"),
])
def test_reconnect_timers(changes, words):
    assert words in " ".join(problems_with(**changes))


def test_reconnect_timers_as_text_from_extra_vars_pass():
    assert not problems_with(dx_router_connect_delay_time="5", dx_router_error_wait_time_min="16", dx_router_error_wait_time_max="16")


def test_every_problem_is_named_at_once():
    problems = problems_with(dx_router_local_asn=0, dx_router_amazon_address="10.0.0.1", dx_router_announced_prefixes=["x"],
                             dx_router_hold_time=0, dx_router_bfd_min_tx_ms=100, dx_router_bfd_multiplier=1,
                             md5_key_facts={"length": 0}, dx_router_interface="", dx_router_bgp_name="aws-dx",
                             dx_router_router_id="x", dx_router_connect_delay_time=0, dx_router_error_wait_time_min=30)
    named = " ".join(problems)
    for setting in ("dx_router_local_asn", "dx_router_amazon_address", "dx_router_announced_prefixes", "dx_router_hold_time",
                    "dx_router_bfd_min_tx_ms", "dx_router_bfd_multiplier", "dx_router_md5_key", "dx_router_interface",
                    "dx_router_bgp_name", "dx_router_router_id", "dx_router_connect_delay_time"):
        assert setting in named, named
    assert len(problems) == 11


def test_the_filter_is_the_function():
    assert FilterModule().filters()["dx_router_problems"] is dx_router_problems
