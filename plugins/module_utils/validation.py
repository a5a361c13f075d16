# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline validation of identifiers and CIDRs, before any API call."""

from __future__ import annotations

import ipaddress
import re

from .errors import ValidationError

# EC2 resource IDs: a prefix and 8 (older resources) or 17 lowercase hex digits.
_RESOURCE_ID = {
    "route table": re.compile(r"^rtb-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
    "network interface": re.compile(r"^eni-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
}


def resource_id_problem(kind, value):
    """Return a message when ``value`` is not a well-formed ID of ``kind``, else None."""
    if not isinstance(value, str) or not _RESOURCE_ID[kind].match(value):
        example = "rtb-0123456789abcdef0" if kind == "route table" else "eni-0123456789abcdef0"
        return "%r is not a valid %s ID (expected the form %s)" % (value, kind, example)
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


def validate_route_inputs(route_table_ids, destination_cidrs, vpn_eni_id, probe_route_table_id=None):
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
        elif probe_route_table_id in (route_table_ids or []):
            problems.append(
                "route_table_ids lists %s, the probe subnet's route table; it must keep following "
                "Direct Connect so the probes measure DX, so it is never modified" % probe_route_table_id
            )
    if problems:
        raise ValidationError(problems)
    return unique(route_table_ids), unique(normalize_cidr(cidr) for cidr in destination_cidrs)
