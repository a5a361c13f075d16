# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cidr_problems filter names every entry of a list that is not a CIDR block."""

from __future__ import annotations

from ansible_collections.localzones.failover.plugins.filter.cidr_problems import FilterModule

cidr_problems = FilterModule().filters()["cidr_problems"]


def test_networks_of_both_families_pass():
    assert cidr_problems(["198.18.0.0/16", "2001:db8::/32"], "fhrp_track_script.prefixes") == []


def test_every_bad_entry_is_named_once():
    assert cidr_problems(["198.18.0.1/16", "nonsense", "198.19.0.0/24"], "p") == [
        "p: '198.18.0.1/16' has host bits set; did you mean 198.18.0.0/16?",
        "p: 'nonsense' is not a CIDR block (expected an address and a prefix length, e.g. 198.18.128.0/24).",
    ]


def test_an_empty_list_or_a_string_is_a_problem():
    assert cidr_problems([], "p") == ["p must be a non-empty list of CIDR blocks (got [])."]
    assert cidr_problems("198.18.0.0/16", "p") == ["p must be a non-empty list of CIDR blocks (got '198.18.0.0/16')."]
