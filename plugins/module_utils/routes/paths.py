# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which path, Direct Connect or the VPN, the managed route tables are on, and the views modules return."""

from __future__ import annotations

PATH_VPN = "vpn"
PATH_DX = "dx"
PATH_MIXED = "mixed"


def destination_path(table, destination, vpn_eni_id):
    """``vpn`` when the destination's static route targets the VPN ENI, ``dx`` when none exists.

    Any other static route (already refused by planning) reports its target.
    """
    current = table.static_route(destination)
    if current is None:
        return PATH_DX
    if current.target == vpn_eni_id:
        return PATH_VPN
    return current.target


def active_path(table, destinations, vpn_eni_id):
    """``vpn`` or ``dx`` when every managed destination agrees, else ``mixed``."""
    paths = {destination_path(table, destination, vpn_eni_id) for destination in destinations}
    if len(paths) == 1 and paths <= {PATH_VPN, PATH_DX}:
        return paths.pop()
    return PATH_MIXED


def describe_table(table, destinations, vpn_eni_id):
    """A JSON-friendly summary of one table's managed destinations."""
    entries = []
    for destination in destinations:
        static = table.static_route(destination)
        propagated = table.propagated_routes(destination)
        entries.append(
            {
                "destination_cidr": destination,
                "path": destination_path(table, destination, vpn_eni_id),
                "target": static.target if static else (propagated[0].target if propagated else None),
                "propagated_dx_route": bool(propagated),
            }
        )
    return {
        "route_table_id": table.route_table_id,
        "vpc_id": table.vpc_id,
        "active_path": active_path(table, destinations, vpn_eni_id),
        "propagating_vgws": list(table.propagating_vgws),
        "destinations": entries,
    }


def diff_view(table, destinations):
    """``{destination: target}`` for the managed destinations, as Ansible's diff shows them."""
    view = {}
    for destination in destinations:
        static = table.static_route(destination)
        if static is not None:
            view[destination] = "%s (static)" % static.target
        else:
            propagated = table.propagated_routes(destination)
            view[destination] = "%s (propagated)" % propagated[0].target if propagated else "(no route)"
    return view
