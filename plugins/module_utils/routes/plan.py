# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route planning: which EC2 route calls move traffic onto the VPN or back to DX.

Everything here is pure: it reads ``RouteTable`` snapshots and returns plans.
``aws``'s EC2 code fetches the snapshots and executes the plans. Only routes
``Ownership`` says are ours are ever planned for replacement or deletion (see
``model``).

Route strategies (how the VPN path is written into a table):

* ``per_route``: one static route per managed CIDR to the VPN interface;
* ``prefix_list``: one route per table whose destination is the customer-managed
  prefix list holding the managed CIDRs, so a failover costs one call per table
  instead of one per route. To the VPN, each table first gets that route (created,
  or replaced when ours points at another appliance), and only after every table
  has it are our per-CIDR static routes deleted: a table switching from
  ``per_route`` converges without a moment off the VPN (both kinds point at the
  appliance, and a static CIDR route outranks a prefix-list route anyway). To DX,
  our prefix-list route and our per-CIDR static routes are deleted.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from dataclasses import replace

from ..errors import RouteConflictError
from ..errors import ValidationError
from ..validation import ROUTE_STRATEGIES
from ..validation import ROUTE_STRATEGY_PER_ROUTE
from ..validation import ROUTE_STRATEGY_PREFIX_LIST
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
    """One EC2 route call of a plan.

    Its destination is ``destination_cidr``, or for a route to a prefix list
    ``destination_prefix_list_id`` (``destination_cidr`` is then None), as EC2
    names the two.
    """

    route_table_id: str
    destination_cidr: str
    action: str
    target: str = None
    previous_target: str = None
    destination_prefix_list_id: str = None

    @property
    def destination(self):
        """The route's destination, whichever kind: a CIDR or a prefix list ID."""
        return self.destination_prefix_list_id or self.destination_cidr

    def as_dict(self):
        result = {"route_table_id": self.route_table_id, "action": self.action}
        if self.destination_prefix_list_id:
            result["destination_prefix_list_id"] = self.destination_prefix_list_id
        else:
            result["destination_cidr"] = self.destination_cidr
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


def _plan_prefix_list_for_vpn(table, ownership):
    current = ownership.prefix_list_route(table)
    if current is None:
        return RouteAction(table.route_table_id, None, ACTION_CREATE, target=ownership.vpn_eni_id, destination_prefix_list_id=ownership.prefix_list_id)
    if current.target == ownership.vpn_eni_id:
        return None
    return RouteAction(
        table.route_table_id, None, ACTION_REPLACE, target=ownership.vpn_eni_id, previous_target=current.target,
        destination_prefix_list_id=ownership.prefix_list_id,
    )


def _plan_prefix_list_for_dx(table, ownership):
    current = ownership.prefix_list_route(table)
    if current is None:
        return None
    return RouteAction(table.route_table_id, None, ACTION_DELETE, previous_target=current.target, destination_prefix_list_id=ownership.prefix_list_id)


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


def _per_route_actions(tables, destinations, path, ownership):
    actions = []
    for table in tables:
        for destination in destinations:
            if path == PATH_VPN:
                action = _plan_destination_for_vpn(table, destination, ownership)
            else:
                action = _plan_destination_for_dx(table, destination)
            if action is not None:
                actions.append(action)
    return actions


def _prefix_list_actions(tables, destinations, path, ownership):
    """Every table's prefix-list route first, then the per-CIDR static routes (see the module docstring)."""
    plan_prefix_list = _plan_prefix_list_for_vpn if path == PATH_VPN else _plan_prefix_list_for_dx
    prefix_list_actions = [plan_prefix_list(table, ownership) for table in tables]
    # Conflicts were refused before, so every static route left for a managed CIDR is ours.
    static_deletions = [_plan_destination_for_dx(table, destination) for table in tables for destination in destinations]
    return [action for action in prefix_list_actions + static_deletions if action is not None]


def leftover_prefix_list_notes(tables, ownership):
    """Under ``per_route``: routes to a prefix list that point at a VPN appliance, which per_route never changes.

    One is most likely left from the ``prefix_list`` strategy; it keeps sending the
    list's networks to the appliance after a return to DX.
    """
    notes = []
    for table in tables:
        for route in table.prefix_list_routes:
            if route.is_static and (route.target == ownership.vpn_eni_id or route.target in ownership.appliance_eni_ids):
                notes.append(
                    "%s has a route to the prefix list %s -> %s; route_strategy per_route never changes it, so the list's "
                    "networks stay on the VPN appliance on both paths (remove it with route_strategy prefix_list and path dx)"
                    % (table.route_table_id, route.destination, route.target)
                )
    return notes


def other_prefix_list_notes(tables, ownership):
    """Under ``prefix_list``: routes to other prefix lists, which EC2 ranks equal to ours where their networks overlap.

    EC2 then picks one of the overlapping prefix-list routes at random (and keeps
    that choice), so such a list must not hold a managed network; its entries are
    not read here, so it is named for the operator to check.
    """
    notes = []
    for table in tables:
        for route in table.prefix_list_routes:
            if route.destination != ownership.prefix_list_id:
                notes.append(
                    "%s also routes the prefix list %s -> %s; if it holds any of the managed networks, EC2 chooses between it "
                    "and %s at random for them" % (table.route_table_id, route.destination, route.target, ownership.prefix_list_id)
                )
    return notes


def plan_routes(tables, destinations, path, ownership, route_strategy=ROUTE_STRATEGY_PER_ROUTE):
    """Plan the route calls that put every (table, destination) on ``path`` with ``route_strategy``.

    Raises RouteConflictError, listing every foreign route, before anything is
    planned for execution: a partial failover is worse than none; and
    ValidationError for ``vpn`` when the configured interface no longer exists.
    """
    if path not in (PATH_VPN, PATH_DX):
        raise ValueError("path must be %r or %r, not %r" % (PATH_VPN, PATH_DX, path))
    if route_strategy not in ROUTE_STRATEGIES:
        raise ValueError("route_strategy must be one of %s, not %r" % (", ".join(ROUTE_STRATEGIES), route_strategy))
    if route_strategy == ROUTE_STRATEGY_PREFIX_LIST and not ownership.prefix_list_id:
        raise ValueError("route_strategy prefix_list needs the ownership's prefix_list_id")
    if path == PATH_VPN and not ownership.vpn_eni_exists:
        raise ValidationError(
            "vpn_eni_id %s does not exist%s: refusing to fail over to the VPN, whose routes would be blackholes; "
            "failback to DX (path dx) still removes the routes to it" % (ownership.vpn_eni_id, " in %s" % ownership.region if ownership.region else "")
        )
    conflicts = find_conflicts(tables, destinations, ownership)
    if conflicts:
        raise RouteConflictError(conflicts)
    notes = routing_notes(tables, destinations, path)
    if route_strategy == ROUTE_STRATEGY_PREFIX_LIST:
        actions = _prefix_list_actions(tables, destinations, path, ownership)
        notes.extend(other_prefix_list_notes(tables, ownership))
    else:
        actions = _per_route_actions(tables, destinations, path, ownership)
        notes.extend(leftover_prefix_list_notes(tables, ownership))
    return Plan(path=path, actions=tuple(actions), notes=tuple(notes))


def apply_to_snapshot(table, actions):
    """Return the table as it will look once ``actions`` have run (for check mode and diff)."""
    routes = {False: list(table.routes), True: list(table.prefix_list_routes)}
    for action in actions:
        if action.route_table_id != table.route_table_id:
            continue
        kind = bool(action.destination_prefix_list_id)
        routes[kind] = [route for route in routes[kind] if not (route.destination == action.destination and route.is_static)]
        if action.action in (ACTION_CREATE, ACTION_REPLACE):
            routes[kind].append(Route(action.destination, ORIGIN_STATIC, action.target))
    return replace(table, routes=tuple(routes[False]), prefix_list_routes=tuple(routes[True]))
