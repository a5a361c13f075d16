# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route planning: which EC2 route calls move traffic onto the VPN or back to DX.

Everything here is pure: it reads ``RouteTable`` snapshots and returns plans.
``aws``'s EC2 code fetches the snapshots and executes the plans. Only routes
``Ownership`` says are ours are ever planned for replacement or deletion (see
``model``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from dataclasses import replace

from ..errors import RouteConflictError
from .model import ORIGIN_STATIC
from .model import Route
from .model import find_conflicts
from .paths import PATH_DX
from .paths import PATH_VPN

ACTION_CREATE = "create"
ACTION_REPLACE = "replace"
ACTION_DELETE = "delete"


@dataclass(frozen=True)
class RouteAction:
    """One EC2 route call of a plan."""

    route_table_id: str
    destination_cidr: str
    action: str
    target: str = None
    previous_target: str = None

    def as_dict(self):
        result = {"route_table_id": self.route_table_id, "destination_cidr": self.destination_cidr, "action": self.action}
        if self.target:
            result["target"] = self.target
        if self.previous_target:
            result["previous_target"] = self.previous_target
        return result


@dataclass(frozen=True)
class Plan:
    """The actions that bring every managed route table onto ``path``."""

    path: str
    actions: tuple
    notes: tuple = ()

    @property
    def changed(self):
        return bool(self.actions)


def _plan_destination_for_vpn(table, destination, ownership):
    current = table.static_route(destination)
    if current is None:
        return RouteAction(table.route_table_id, destination, ACTION_CREATE, target=ownership.vpn_eni_id)
    if current.target == ownership.vpn_eni_id:
        return None
    return RouteAction(table.route_table_id, destination, ACTION_REPLACE, target=ownership.vpn_eni_id, previous_target=current.target)


def _plan_destination_for_dx(table, destination):
    current = table.static_route(destination)
    if current is None:
        return None
    return RouteAction(table.route_table_id, destination, ACTION_DELETE, previous_target=current.target)


def _more_specific_route_notes(table, network, path):
    """Routes inside a managed CIDR win by longest prefix, whatever the static route says."""
    notes = []
    for route in table.routes:
        other = ipaddress.ip_network(route.destination)
        if route.is_local or other.version != network.version or other == network or not other.subnet_of(network):
            continue
        if route.is_propagated and path == PATH_VPN:
            notes.append(
                "%s learns the more specific %s from %s; while DX still advertises it, that traffic stays on DX"
                % (table.route_table_id, route.destination, route.target)
            )
        elif not route.is_propagated:
            notes.append(
                "%s has a more specific route %s -> %s inside managed %s; it takes precedence on both paths"
                % (table.route_table_id, route.destination, route.target, network)
            )
    return notes


def routing_notes(tables, destinations, path):
    """Non-fatal observations an operator should hear about (returned as warnings)."""
    notes = []
    for table in tables:
        if not table.propagating_vgws:
            notes.append(
                "%s has no virtual private gateway route propagation enabled, so it cannot learn the DX routes; "
                "failback to DX will leave its destinations without a DX route" % table.route_table_id
            )
        for destination in destinations:
            network = ipaddress.ip_network(destination)
            if path == PATH_DX and table.propagating_vgws and not table.propagated_routes(destination):
                notes.append(
                    "%s has no propagated DX route for %s right now (DX has not advertised it); on the DX path "
                    "that traffic follows less specific routes" % (table.route_table_id, destination)
                )
            notes.extend(_more_specific_route_notes(table, network, path))
    return notes


def plan_routes(tables, destinations, path, ownership):
    """Plan the route calls that put every (table, destination) on ``path``.

    Raises RouteConflictError, listing every foreign route, before anything is
    planned for execution: a partial failover is worse than none.
    """
    if path not in (PATH_VPN, PATH_DX):
        raise ValueError("path must be %r or %r, not %r" % (PATH_VPN, PATH_DX, path))
    conflicts = find_conflicts(tables, destinations, ownership)
    if conflicts:
        raise RouteConflictError(conflicts)
    actions = []
    for table in tables:
        for destination in destinations:
            if path == PATH_VPN:
                action = _plan_destination_for_vpn(table, destination, ownership)
            else:
                action = _plan_destination_for_dx(table, destination)
            if action is not None:
                actions.append(action)
    return Plan(path=path, actions=tuple(actions), notes=tuple(routing_notes(tables, destinations, path)))


def apply_to_snapshot(table, actions):
    """Return the table as it will look once ``actions`` have run (for check mode and diff)."""
    routes = list(table.routes)
    for action in actions:
        if action.route_table_id != table.route_table_id:
            continue
        routes = [route for route in routes if not (route.destination == action.destination_cidr and route.is_static)]
        if action.action in (ACTION_CREATE, ACTION_REPLACE):
            routes.append(Route(action.destination_cidr, ORIGIN_STATIC, action.target))
    return replace(table, routes=tuple(routes))
