# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline validation of identifiers, CIDRs and settings values, before any API call."""

from __future__ import annotations

import ipaddress
import math
import re

from .errors import ValidationError

# EC2 resource IDs: a prefix and 8 (older resources) or 17 lowercase hex digits.
_RESOURCE_ID = {
    "route table": re.compile(r"^rtb-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
    "network interface": re.compile(r"^eni-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
    "prefix list": re.compile(r"^pl-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
}
_RESOURCE_ID_EXAMPLE = {
    "route table": "rtb-0123456789abcdef0",
    "network interface": "eni-0123456789abcdef0",
    "prefix list": "pl-0123456789abcdef0",
}

# How the VPN path is written into a route table (see ``routes.plan``).
ROUTE_STRATEGY_PER_ROUTE = "per_route"
ROUTE_STRATEGY_PREFIX_LIST = "prefix_list"
ROUTE_STRATEGIES = (ROUTE_STRATEGY_PER_ROUTE, ROUTE_STRATEGY_PREFIX_LIST)


class SelfChecking:
    """Settings that list every problem (``problems()``) so ``validate()`` reports them all in one pass."""

    def problems(self):
        """Return the list of everything wrong with these settings (empty when valid)."""
        raise NotImplementedError

    def validate(self):
        """Raise ValidationError listing every problem; return self when valid."""
        problems = self.problems()
        if problems:
            raise ValidationError(problems)
        return self


def is_int(value):
    """True for an integer; a boolean is not one here, although Python makes bool a subclass of int."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    """True for a finite integer or float (not a boolean, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def resource_id_problem(kind, value):
    """Return a message when ``value`` is not a well-formed ID of ``kind``, else None."""
    if not isinstance(value, str) or not _RESOURCE_ID[kind].match(value):
        return "%r is not a valid %s ID (expected the form %s)" % (value, kind, _RESOURCE_ID_EXAMPLE[kind])
    return None


def cidr_problem(value):
    """Return a message when ``value`` is not a network CIDR (host bits clear), else None."""
    if not isinstance(value, str) or "/" not in value:
        return "%r is not a CIDR block (expected an address and a prefix length, e.g. 198.18.128.0/24)" % (value,)
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return "%r is not a CIDR block: %s" % (value, exc)
        return "%r has host bits set; did you mean %s?" % (value, network)
    return None


def normalize_cidr(value):
    """Return the canonical text of a valid CIDR (compressed IPv6, lowercase)."""
    return str(ipaddress.ip_network(value, strict=True))


def unique(values):
    """Return ``values`` without repeats, keeping the first occurrence's position."""
    seen = set()
    result = []
    for value in values:
        if value not in seen:
            seen.add(value)
            result.append(value)
    return result


def probe_table_positions(route_table_ids, probe_route_table_id):
    """The indices at which ``route_table_ids`` lists the probe subnet's route table.

    That table must keep following Direct Connect so the probes measure DX: it is never
    managed, so any position found is a mistake of the caller's input.
    """
    return [index for index, rtb in enumerate(route_table_ids or []) if rtb == probe_route_table_id]


def route_strategy_problems(route_strategy, prefix_list_id):
    """What is wrong with a route strategy and its prefix list ID, as a list (empty when nothing is).

    ``prefix_list`` needs the ID of the list it routes to; ``per_route`` refuses
    one, since it would be ignored and the operator would believe it is used.
    """
    if route_strategy not in ROUTE_STRATEGIES:
        return ["route_strategy: %r is not a route strategy (expected one of %s)" % (route_strategy, ", ".join(ROUTE_STRATEGIES))]
    if route_strategy == ROUTE_STRATEGY_PER_ROUTE:
        if prefix_list_id is not None:
            return ["prefix_list_id: %s is given but route_strategy is per_route, which does not use a prefix list; "
                    "set route_strategy to prefix_list or remove prefix_list_id" % (prefix_list_id,)]
        return []
    if prefix_list_id is None:
        return ["prefix_list_id: route_strategy prefix_list needs the ID of the customer-managed prefix list "
                "that holds destination_cidrs"]
    problem = resource_id_problem("prefix list", prefix_list_id)
    return ["prefix_list_id: " + problem] if problem else []


def validate_route_inputs(
        route_table_ids, destination_cidrs, vpn_eni_id, probe_route_table_id=None, route_strategy=ROUTE_STRATEGY_PER_ROUTE, prefix_list_id=None):
    """Check every offline-checkable input at once and return normalized copies.

    Raises a single ValidationError listing every problem, so an operator fixes
    them in one pass. Returns ``(route_table_ids, destination_cidrs)`` with
    duplicates removed and CIDRs in canonical form.
    """
    problems = []
    if not route_table_ids:
        problems.append("route_table_ids must list at least one route table")
    if not destination_cidrs:
        problems.append("destination_cidrs must list at least one CIDR block")
    for rtb in route_table_ids or []:
        problem = resource_id_problem("route table", rtb)
        if problem:
            problems.append("route_table_ids: " + problem)
    for cidr in destination_cidrs or []:
        problem = cidr_problem(cidr)
        if problem:
            problems.append("destination_cidrs: " + problem)
    problem = resource_id_problem("network interface", vpn_eni_id)
    if problem:
        problems.append("vpn_eni_id: " + problem)
    if probe_route_table_id is not None:
        problem = resource_id_problem("route table", probe_route_table_id)
        if problem:
            problems.append("probe_route_table_id: " + problem)
        elif probe_table_positions(route_table_ids, probe_route_table_id):
            problems.append(
                "route_table_ids lists %s, the probe subnet's route table; it must keep following "
                "Direct Connect so the probes measure DX, so it is never modified" % probe_route_table_id
            )
    problems.extend(route_strategy_problems(route_strategy, prefix_list_id))
    if problems:
        raise ValidationError(problems)
    return unique(route_table_ids), unique(normalize_cidr(cidr) for cidr in destination_cidrs)


# IPv4 networks that are not globally reachable (IANA IPv4 Special-Purpose Address
# Registry), in the words an operator recognises.  A public customer gateway
# address is none of these.  198.18.0.0/15 is apart: ``allow_benchmark`` admits it
# for test labs (RFC 2544 reserves it for exactly that).
BENCHMARK_NETWORK = ipaddress.ip_network("198.18.0.0/15")
_NOT_PUBLIC_IPV4 = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "the 'this network' block (RFC 791), not an address a host can have"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space for carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation space (TEST-NET-1, RFC 5737)"),
        ("192.88.99.0/24", "the deprecated 6to4 relay anycast block (RFC 7526)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmark space (RFC 2544), only for test labs"),
        ("198.51.100.0/24", "documentation space (TEST-NET-2, RFC 5737)"),
        ("203.0.113.0/24", "documentation space (TEST-NET-3, RFC 5737)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4, the limited broadcast address included)"),
    )
)


def public_ipv4_problem(value, setting, allow_benchmark=False):
    """Return a message when ``value`` is not a public unicast IPv4 address, else None.

    ``setting`` names the variable in the message.  With ``allow_benchmark``,
    addresses of 198.18.0.0/15 (RFC 2544 benchmark space, which test labs use)
    pass too; every other special-purpose range is still refused.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return "%s is not set: give a public IPv4 address." % setting
    if not isinstance(value, str):
        return "%s: %r is not an IPv4 address." % (setting, value)
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if "/" in text:
            return "%s: %r is a network, not an address: give the address alone (no prefix length)." % (setting, value)
        return "%s: %r is not an IPv4 address." % (setting, value)
    if address.version != 4:
        return "%s: %s is an IPv6 address, not a public IPv4 address." % (setting, text)
    if allow_benchmark and address in BENCHMARK_NETWORK:
        return None
    for network, kind in _NOT_PUBLIC_IPV4:
        if address in network:
            return "%s: %s is not a public unicast IPv4 address: it is in %s, %s." % (setting, text, network, kind)
    return None


def instance_type_problem(zone, instance_type, setting):
    """Return a message when the zone (an ``lz_zone_info`` result with offerings) does not offer ``instance_type``, else None."""
    offered = list((zone or {}).get("instance_types") or [])
    if instance_type in offered:
        return None
    zone_name = (zone or {}).get("zone_name", "")
    place = "the Local Zone %s" % zone_name if (zone or {}).get("zone_type") == "local-zone" else "the zone %s" % zone_name
    return "The instance type %s is not offered in %s. It offers %s: set %s to one of them." % (
        instance_type, place, ", ".join(sorted(offered)) or "no instance types", setting)
