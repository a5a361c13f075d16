# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which path, Direct Connect or the VPN, the managed route tables are on: the one definition.

``path_of`` is what the monitor's actuator observes, what lz_route_failover and
lz_route_failover_info report and what lz_route_watch records, so none of them
can tell a different story about the same tables.

Per managed (table, destination), by ownership (``model.Ownership``):

* no static route for it and no route to the configured prefix list (the
  ``prefix_list`` route strategy): ``dx`` (the route Direct Connect propagates carries the traffic
  while DX advertises it);
* a static route this failover owns, or else its route to the configured prefix
  list (EC2 ranks a static CIDR route above a prefix-list route): ``vpn``, also
  when it targets the interface of a replaced appliance, which is still ours;
* any other such route: on no path of ours. It is never counted as ours, so it
  is left out of the path; planning refuses it as a conflict and the reports show
  it by its target.

Over several destinations or tables: the path they agree on, ``mixed`` when they
differ, ``dx`` when none of them is on a path of ours.
"""

from __future__ import annotations

PATH_VPN = "vpn"
PATH_DX = "dx"
PATH_MIXED = "mixed"


def carrying_route(table, destination, ownership):
    """The route that takes ``destination``'s traffic away from DX: its static route, else the prefix-list route; or None.

    The configured prefix list holds exactly the managed destinations (``load_snapshot``
    checks it), so its route covers each of them.
    """
    return table.static_route(destination) or ownership.prefix_list_route(table)


def _destination_path(table, destination, ownership):
    """``dx``, ``vpn``, or None for a route that is not ours (see the module docstring)."""
    route = carrying_route(table, destination, ownership)
    if route is None:
        return PATH_DX
    if ownership.owns(route):
        return PATH_VPN
    return None


def path_of(tables, destinations, ownership):
    """The path ``tables`` are on for ``destinations``: ``dx``, ``vpn`` or ``mixed``."""
    paths = {_destination_path(table, destination, ownership) for table in tables for destination in destinations}
    paths.discard(None)
    if len(paths) > 1:
        return PATH_MIXED
    return paths.pop() if paths else PATH_DX


def describe_table(table, destinations, ownership):
    """A JSON-friendly summary of one table's managed destinations.

    A destination whose static (or prefix-list) route is not ours is on no path, so
    its ``path`` is that route's target.
    """
    entries = []
    for destination in destinations:
        static = carrying_route(table, destination, ownership)
        propagated = table.propagated_routes(destination)
        entries.append(
            {
                "destination_cidr": destination,
                "path": _destination_path(table, destination, ownership) or static.target,
                "target": static.target if static else (propagated[0].target if propagated else None),
                "propagated_dx_route": bool(propagated),
            }
        )
    return {
        "route_table_id": table.route_table_id,
        "vpc_id": table.vpc_id,
        "active_path": path_of([table], destinations, ownership),
        "propagating_vgws": list(table.propagating_vgws),
        "destinations": entries,
    }


def diff_view(table, destinations, ownership=None):
    """``{destination: target}`` for the managed destinations, as Ansible's diff shows them.

    With ``ownership`` (the ``prefix_list`` strategy), a destination carried by the
    route to the configured prefix list shows that route.
    """
    view = {}
    for destination in destinations:
        static = carrying_route(table, destination, ownership) if ownership else table.static_route(destination)
        if static is not None and static.is_prefix_list:
            view[destination] = "%s (prefix list %s)" % (static.target, static.destination)
        elif static is not None:
            view[destination] = "%s (static)" % static.target
        else:
            propagated = table.propagated_routes(destination)
            view[destination] = "%s (propagated)" % propagated[0].target if propagated else "(no route)"
    return view
