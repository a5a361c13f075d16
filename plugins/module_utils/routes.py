# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route planning: which EC2 route calls move traffic onto the VPN or back to DX.

Everything here is pure: it reads ``RouteTable`` snapshots and returns plans.
``ec2.py`` fetches the snapshots and executes the plans.

Ownership
---------
This project only ever creates one kind of route: a *static* route (``Origin``
``CreateRoute``) for a managed destination CIDR whose target is a VPN
appliance's network interface. A route is **owned** by this failover when

* its ``Origin`` is ``CreateRoute``, and
* its target is the configured ``vpn_eni_id``, or another network interface
  tagged ``localzones.failover/role=vpn-appliance`` in the same VPC (the mark the
  ``vpn_appliance`` role puts on an appliance's ENI; it is how the route of a
  replaced appliance is recognised).

Only owned routes are ever replaced or deleted. Propagated routes (``Origin``
``EnableVgwRoutePropagation``, the DX path) are never touched. A static route for
a managed CIDR that points anywhere else (transit gateway, NAT gateway, another
interface, a gateway, a blackholed interface whose tags can no longer be read)
is a conflict: the whole plan is refused before any call is made.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from .errors import RouteConflictError

ORIGIN_STATIC = "CreateRoute"
ORIGIN_LOCAL = "CreateRouteTable"
ORIGIN_PROPAGATED = "EnableVgwRoutePropagation"

PATH_VPN = "vpn"
PATH_DX = "dx"
PATH_MIXED = "mixed"

ACTION_CREATE = "create"
ACTION_REPLACE = "replace"
ACTION_DELETE = "delete"

# Where a route sends traffic, in the order EC2 fills these keys. A route to an
# instance carries both InstanceId and NetworkInterfaceId; the interface wins
# because ownership is decided by interface.
_TARGET_KEYS = (
    "NetworkInterfaceId",
    "TransitGatewayId",
    "NatGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
    "InstanceId",
    "GatewayId",
)


def canonical_cidr(value):
    """Return the canonical text of a CIDR so routes and inputs compare equal."""
    return str(ipaddress.ip_network(value, strict=False))


@dataclass(frozen=True)
class Route:
    """One route of a route table, reduced to what planning needs."""

    destination: str
    origin: str
    target: str
    state: str = "active"

    @property
    def is_static(self):
        return self.origin == ORIGIN_STATIC

    @property
    def is_propagated(self):
        return self.origin == ORIGIN_PROPAGATED

    @property
    def is_local(self):
        return self.origin == ORIGIN_LOCAL or self.target == "local"

    @classmethod
    def from_api(cls, raw):
        """Build a Route from a DescribeRouteTables entry; None for prefix-list routes."""
        destination = raw.get("DestinationCidrBlock") or raw.get("DestinationIpv6CidrBlock")
        if not destination:
            return None
        target = next((raw[key] for key in _TARGET_KEYS if raw.get(key)), "unknown")
        return cls(
            destination=canonical_cidr(destination),
            origin=raw.get("Origin", ORIGIN_STATIC),
            target=target,
            state=raw.get("State", "active"),
        )


@dataclass(frozen=True)
class RouteTable:
    """A route table as read from DescribeRouteTables."""

    route_table_id: str
    vpc_id: str
    routes: tuple = ()
    propagating_vgws: tuple = ()

    @classmethod
    def from_api(cls, raw):
        routes = tuple(route for route in (Route.from_api(item) for item in raw.get("Routes", [])) if route)
        vgws = tuple(item["GatewayId"] for item in raw.get("PropagatingVgws", []) if item.get("GatewayId"))
        return cls(route_table_id=raw["RouteTableId"], vpc_id=raw.get("VpcId", ""), routes=routes, propagating_vgws=vgws)

    def static_route(self, destination):
        """The static route for ``destination`` (EC2 allows at most one), or None."""
        return next((route for route in self.routes if route.destination == destination and route.is_static), None)

    def propagated_routes(self, destination):
        return [route for route in self.routes if route.destination == destination and route.is_propagated]

    def local_networks(self):
        return [ipaddress.ip_network(route.destination) for route in self.routes if route.is_local]


@dataclass(frozen=True)
class Ownership:
    """Which static routes this failover may replace or delete (see module docstring)."""

    vpn_eni_id: str
    appliance_eni_ids: frozenset = field(default_factory=frozenset)

    def owns(self, route):
        return route.is_static and (route.target == self.vpn_eni_id or route.target in self.appliance_eni_ids)


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
class Conflict:
    """A static route for a managed destination that this failover does not own."""

    route_table_id: str
    destination_cidr: str
    target: str
    state: str

    def describe(self):
        blackhole = " (blackhole: its target no longer exists, so its owner cannot be verified)" if self.state == "blackhole" else ""
        return "%s has a static route %s -> %s%s" % (self.route_table_id, self.destination_cidr, self.target, blackhole)

    def as_dict(self):
        return {"route_table_id": self.route_table_id, "destination_cidr": self.destination_cidr, "target": self.target, "state": self.state}


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


def find_conflicts(tables, destinations, ownership):
    """Static routes for managed destinations that this failover does not own."""
    conflicts = []
    for table in tables:
        for destination in destinations:
            current = table.static_route(destination)
            if current is not None and not ownership.owns(current):
                conflicts.append(Conflict(table.route_table_id, destination, current.target, current.state))
    return conflicts


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
