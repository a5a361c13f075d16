# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The route model: routes and route tables as EC2 shows them, and which routes are ours.

Everything here is pure: ``aws``'s EC2 reads build these objects, planning and
``path_of`` read them.

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

With the ``prefix_list`` route strategy (``plan``) the VPN path of a table is
one static route whose destination is the configured customer-managed prefix
list (``DestinationPrefixListId``) instead of one route per CIDR. Such a route
is owned under the same two rules, and only when its destination is the
configured ``prefix_list_id``; a route on that list pointing anywhere else is a
conflict, like a foreign static route for a managed CIDR.

Only owned routes are ever replaced or deleted. Propagated routes (``Origin``
``EnableVgwRoutePropagation``, the DX path) are never touched. A static route for
a managed CIDR that points anywhere else (transit gateway, NAT gateway, another
interface, a gateway, a blackholed interface whose tags can no longer be read)
is a conflict: the whole plan is refused before any call is made.

The configured ``vpn_eni_id`` is ours by configuration, not by tag: a static
route to it is owned in any state, also ``blackhole`` after the interface was
deleted, so failback to DX still removes it. A blackholed route of *another*
interface that is gone cannot be verified (its tag went with it) and stays a
conflict; ``Conflict.clear_command`` gives the command that removes it by hand.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from dataclasses import field

ORIGIN_STATIC = "CreateRoute"
ORIGIN_LOCAL = "CreateRouteTable"
ORIGIN_PROPAGATED = "EnableVgwRoutePropagation"

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


PREFIX_LIST_ID_PREFIX = "pl-"


def is_prefix_list_id(destination):
    """Whether a route destination is a prefix list (``pl-...``) rather than a CIDR."""
    return destination.startswith(PREFIX_LIST_ID_PREFIX)


def canonical_cidr(value):
    """Return the canonical text of a CIDR so routes and inputs compare equal."""
    return str(ipaddress.ip_network(value, strict=False))


@dataclass(frozen=True)
class Route:
    """One route of a route table, reduced to what planning needs.

    ``destination`` is a CIDR in canonical form, or a prefix list ID for a
    route to a prefix list (``is_prefix_list``).
    """

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

    @property
    def is_prefix_list(self):
        return is_prefix_list_id(self.destination)

    @classmethod
    def from_api(cls, raw):
        """Build a Route from a DescribeRouteTables entry (CIDR or prefix-list destination); None without one."""
        cidr = raw.get("DestinationCidrBlock") or raw.get("DestinationIpv6CidrBlock")
        destination = canonical_cidr(cidr) if cidr else raw.get("DestinationPrefixListId")
        if not destination:
            return None
        target = next((raw[key] for key in _TARGET_KEYS if raw.get(key)), "unknown")
        return cls(
            destination=destination,
            origin=raw.get("Origin", ORIGIN_STATIC),
            target=target,
            state=raw.get("State", "active"),
        )


@dataclass(frozen=True)
class RouteTable:
    """A route table as read from DescribeRouteTables.

    ``routes`` holds the routes to CIDRs, ``prefix_list_routes`` the routes to
    prefix lists: kept apart because only CIDRs can be compared as networks.
    """

    route_table_id: str
    vpc_id: str
    routes: tuple = ()
    propagating_vgws: tuple = ()
    prefix_list_routes: tuple = ()

    @classmethod
    def from_api(cls, raw):
        every_route = [route for route in (Route.from_api(item) for item in raw.get("Routes", [])) if route]
        vgws = tuple(item["GatewayId"] for item in raw.get("PropagatingVgws", []) if item.get("GatewayId"))
        return cls(
            route_table_id=raw["RouteTableId"], vpc_id=raw.get("VpcId", ""), propagating_vgws=vgws,
            routes=tuple(route for route in every_route if not route.is_prefix_list),
            prefix_list_routes=tuple(route for route in every_route if route.is_prefix_list),
        )

    def static_route(self, destination):
        """The static route for ``destination`` (EC2 allows at most one), or None."""
        return next((route for route in self.routes if route.destination == destination and route.is_static), None)

    def prefix_list_route(self, prefix_list_id):
        """The route to the prefix list ``prefix_list_id`` (EC2 allows at most one), or None."""
        return next((route for route in self.prefix_list_routes if route.destination == prefix_list_id), None)

    def propagated_routes(self, destination):
        return [route for route in self.routes if route.destination == destination and route.is_propagated]

    def local_networks(self):
        return [ipaddress.ip_network(route.destination) for route in self.routes if route.is_local]


@dataclass(frozen=True)
class Ownership:
    """Which static routes this failover may replace or delete (see module docstring)."""

    vpn_eni_id: str
    appliance_eni_ids: frozenset = field(default_factory=frozenset)
    prefix_list_id: str = None  # set with the prefix_list route strategy only
    # False when vpn_eni_id no longer exists: its routes are still ours (failback
    # deletes them), but no plan may put traffic on it (plan.plan_routes refuses).
    vpn_eni_exists: bool = True
    region: str = None  # named in the commands of conflict reports (Conflict.clear_command)

    def owns(self, route):
        if route.is_prefix_list and route.destination != self.prefix_list_id:
            return False
        return route.is_static and (route.target == self.vpn_eni_id or route.target in self.appliance_eni_ids)

    def prefix_list_route(self, table):
        """The table's route to the configured prefix list, ours or not; None without one (or without a list)."""
        return table.prefix_list_route(self.prefix_list_id) if self.prefix_list_id else None


@dataclass(frozen=True)
class Conflict:
    """A static route for a managed destination (a CIDR, or the configured prefix list) that this failover does not own.

    For a route to the prefix list, ``destination_cidr`` is None and
    ``destination_prefix_list_id`` names the list (EC2's own two names).
    """

    route_table_id: str
    destination_cidr: str
    target: str
    state: str
    destination_prefix_list_id: str = None
    region: str = None

    def clear_command(self):
        """The AWS CLI command that deletes a blackholed route by hand; None for a route that still leads somewhere.

        A blackholed route carries no traffic and its owner cannot be verified, so
        the operator decides; a live foreign route is someone's path and gets no
        ready-made command.
        """
        if self.state != "blackhole":
            return None
        if self.destination_prefix_list_id:
            destination = "--destination-prefix-list-id %s" % self.destination_prefix_list_id
        elif ":" in self.destination_cidr:
            destination = "--destination-ipv6-cidr-block %s" % self.destination_cidr
        else:
            destination = "--destination-cidr-block %s" % self.destination_cidr
        region = " --region %s" % self.region if self.region else ""
        return "aws ec2 delete-route --route-table-id %s %s%s" % (self.route_table_id, destination, region)

    def describe(self):
        blackhole = ""
        if self.state == "blackhole":
            blackhole = " (blackhole: its target no longer exists, so its owner cannot be verified; if it was yours, clear it with: %s)" % self.clear_command()
        if self.destination_prefix_list_id:
            route = "a route to the prefix list %s -> %s" % (self.destination_prefix_list_id, self.target)
        else:
            route = "a static route %s -> %s" % (self.destination_cidr, self.target)
        return "%s has %s%s" % (self.route_table_id, route, blackhole)

    def as_dict(self):
        result = {"route_table_id": self.route_table_id, "destination_cidr": self.destination_cidr, "target": self.target, "state": self.state}
        if self.destination_prefix_list_id:
            del result["destination_cidr"]
            result["destination_prefix_list_id"] = self.destination_prefix_list_id
        command = self.clear_command()
        if command:
            result["clear_command"] = command
        return result


def find_conflicts(tables, destinations, ownership):
    """Static routes for managed destinations, and routes to the configured prefix list, that this failover does not own.

    A static route for a managed CIDR outranks a prefix-list route (EC2's route
    priority), so under either strategy it would keep the traffic: a conflict.
    """
    conflicts = []
    for table in tables:
        for destination in destinations:
            current = table.static_route(destination)
            if current is not None and not ownership.owns(current):
                conflicts.append(Conflict(table.route_table_id, destination, current.target, current.state, region=ownership.region))
        listed = ownership.prefix_list_route(table)
        if listed is not None and not ownership.owns(listed):
            conflicts.append(Conflict(
                table.route_table_id, None, listed.target, listed.state, destination_prefix_list_id=listed.destination, region=ownership.region,
            ))
    return conflicts
