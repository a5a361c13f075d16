# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static routes: CreateRoute, ReplaceRoute, DeleteRoute and a route's State as EC2 has them.

* CreateRoute duplicates.  moto checks duplicates for IPv4 destinations only,
  skips the check when ``NetworkInterfaceId`` is given and then silently
  overwrites the existing route, and lets a route replace the ``local`` one.
  EC2 answers ``RouteAlreadyExists`` (HTTP 400) for every target kind, for IPv4,
  IPv6 and prefix-list destinations, whenever the table already holds a static
  or local route for that destination.  A destination that only has a
  *propagated* route (propagation.py) is not a duplicate: the static route is
  created and both are listed (the static one wins for traffic, as on EC2).
  An IPv4 destination that is not a CIDR is refused for every target kind.
* ``DestinationCidrBlock`` is IPv4 only, in every route call: moto's DeleteRoute
  and ReplaceRoute take an IPv6 CIDR there and act on the IPv6 route (so a
  command printed with the wrong option would work here and fail on EC2);
  here they answer ``InvalidParameterValue`` like CreateRoute.
* DeleteRoute / ReplaceRoute only act on static routes (propagated routes are
  not stored with them), so a destination that only has a propagated route
  answers ``InvalidRoute.NotFound`` / ``InvalidParameterValue`` like EC2.
  DeleteRoute of the ``local`` route answers ``InvalidParameterValue``
  instead of deleting it.
* A ``NetworkInterfaceId`` (CreateRoute, ReplaceRoute) whose interface is in
  another VPC than the route table, or a VGW ``GatewayId`` not attached to that
  VPC, is refused with ``InvalidParameterValue`` "route table ... and network
  ... belong to different networks"; moto accepts both.
* A static route whose interface was deleted, whose instance (``InstanceId``)
  was terminated, or whose VGW is no longer attached to the table's VPC, shows
  ``State: blackhole``; moto always says ``active``.
* Routes to a prefix list (``DestinationPrefixListId``).  moto drops the
  prefix list when the target is a ``NetworkInterfaceId`` (the route is stored
  without any destination) and accepts a prefix list that does not exist.
  Here the route keeps its prefix list, so DescribeRouteTables lists it with
  ``DestinationPrefixListId``, ``Origin: CreateRoute``, its target and its
  state, a second route to the same list answers ``RouteAlreadyExists``, and an
  unknown list answers ``InvalidPrefixListID.NotFound`` like EC2.
  ReplaceRoute and DeleteRoute of such a route already work in moto
  (``InvalidParameterValue`` / ``InvalidRoute.NotFound`` when it is absent).

Known differences: routes to a prefix list are listed, never expanded into
its CIDRs or ranked against other routes (nothing here forwards packets); the
MaxEntries of a list is not counted against a routes-per-table quota; a route
to an interface attached to an instance does not
carry ``InstanceId`` / ``InstanceOwnerId``; ReplaceRoute of the ``local`` route
(``LocalTarget``), CreateRoute parameter combination errors (two targets),
blackhole for targets other than interfaces, instances and VGWs (and for a route
to an interface that exists but is attached to no running instance), eventual consistency and
``attaching``/``detaching`` transitions are not reproduced.
"""

from __future__ import annotations

import ipaddress

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.exceptions import InvalidDestinationCIDRBlockParameterError
from moto.ec2.exceptions import RouteAlreadyExistsError
from moto.ec2.utils import generate_route_id
from moto.ec2.models.route_tables import Route
from moto.ec2.models.route_tables import RouteBackend

from .patching import original
from .patching import patch


class DifferentNetworksError(EC2ClientError):
    """EC2's answer to a route whose target is outside the route table's VPC."""

    def __init__(self, route_table_id, kind, target_id):
        super().__init__("InvalidParameterValue", f"route table {route_table_id} and network {kind} {target_id} belong to different networks")


class PrefixListNotFoundError(EC2ClientError):
    """EC2's answer to a route whose destination prefix list does not exist."""

    def __init__(self, prefix_list_id):
        super().__init__("InvalidPrefixListID.NotFound", f"The prefix list ID '{prefix_list_id}' does not exist")


class LocalRouteDeletionError(EC2ClientError):
    """EC2 never deletes the route of the VPC's own CIDR."""

    def __init__(self, route_table_id, cidr):
        super().__init__("InvalidParameterValue", f"cannot remove local route {cidr} in route table {route_table_id}")


def destination_key(destination):
    """A destination as EC2 compares it: as a network, so 2001:DB8::/56 and 2001:db8::/56 collide."""
    try:
        return ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return destination


def route_destination(route):
    """The destination of a route, whichever kind it is (IPv4, IPv6, prefix list)."""
    return route.destination_cidr_block or route.destination_ipv6_cidr_block or route.destination_prefix_list_id


def vgw_attached_to(vgw, vpc_id):
    """Whether the VGW exists and its attachment to the VPC is complete."""
    attachment = vgw.attachments.get(vpc_id)
    return vgw.state != "deleted" and attachment is not None and attachment.state == "attached"


def _static_route_state(route):
    backend = route.route_table.ec2_backend
    if route.interface is not None and route.interface.id not in backend.enis:
        return "blackhole"
    if route.instance is not None and route.instance.state == "terminated":
        return "blackhole"
    gateway = route.gateway
    if gateway is not None and gateway.id.startswith("vgw-") and not vgw_attached_to(gateway, route.route_table.vpc_id):
        return "blackhole"
    return "active"


def _reject_duplicate_destination(route_table, destination):
    wanted = destination_key(destination)
    for route in route_table._routes.values():  # pylint: disable=protected-access
        if destination_key(route_destination(route)) == wanted:
            raise RouteAlreadyExistsError(destination)


def _reject_foreign_interface(backend, route_table, interface_id):
    if interface_id:
        interface = backend.get_network_interface(interface_id)
        if interface.subnet.vpc_id != route_table.vpc_id:
            raise DifferentNetworksError(route_table.id, "interface", interface_id)


def _reject_unattached_vgw(backend, route_table, gateway_id):
    if gateway_id and gateway_id.startswith("vgw-"):
        if not vgw_attached_to(backend.get_vpn_gateway(gateway_id), route_table.vpc_id):
            raise DifferentNetworksError(route_table.id, "gateway", gateway_id)


def _validate_ipv4_destination(destination_cidr_block):
    # moto validates the IPv4 text only for some target kinds; EC2 always does.
    if destination_cidr_block:
        try:
            ipaddress.IPv4Network(destination_cidr_block, strict=False)
        except ValueError:
            raise InvalidDestinationCIDRBlockParameterError(destination_cidr_block) from None


def _existing_prefix_list(backend, prefix_list_id):
    prefix_list = backend.managed_prefix_lists.get(prefix_list_id) if prefix_list_id else None
    if prefix_list_id and prefix_list is None:
        raise PrefixListNotFoundError(prefix_list_id)
    return prefix_list


def _keep_prefix_list(route, prefix_list):
    """Give the route the prefix list moto dropped, under the ID moto gives such a route."""
    if prefix_list is None or route.destination_prefix_list is not None:
        return route
    routes = route.route_table._routes  # pylint: disable=protected-access
    routes.pop(route.id, None)
    route.destination_prefix_list = prefix_list
    route.id = generate_route_id(route.route_table.id, None, None, prefix_list.id)
    routes[route.id] = route
    return route


def create_route(  # pylint: disable=too-many-arguments,too-many-positional-arguments  # moto's signature
        self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block=None, destination_prefix_list_id=None, local=False, **targets):
    """RouteBackend.create_route with EC2's duplicate and same-network checks, keeping a prefix-list destination."""
    prefix_list = None
    if not local:
        route_table = self.get_route_table(route_table_id)
        _validate_ipv4_destination(destination_cidr_block)
        prefix_list = _existing_prefix_list(self, destination_prefix_list_id)
        _reject_duplicate_destination(route_table, destination_cidr_block or destination_ipv6_cidr_block or destination_prefix_list_id)
        _reject_foreign_interface(self, route_table, targets.get("interface_id"))
        _reject_unattached_vgw(self, route_table, targets.get("gateway_id"))
    route = original(RouteBackend, "create_route")(
        self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block, destination_prefix_list_id, local=local, **targets)
    return _keep_prefix_list(route, prefix_list)


def replace_route(self, route_table_id, destination_cidr_block, *args, **kwargs):
    """RouteBackend.replace_route with EC2's IPv4 check of DestinationCidrBlock and same-network checks on the new target."""
    route_table = self.get_route_table(route_table_id)
    _validate_ipv4_destination(destination_cidr_block)
    _reject_foreign_interface(self, route_table, kwargs.get("interface_id"))
    _reject_unattached_vgw(self, route_table, kwargs.get("gateway_id"))
    return original(RouteBackend, "replace_route")(self, route_table_id, destination_cidr_block, *args, **kwargs)


def delete_route(self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block=None, destination_prefix_list_id=None):
    """RouteBackend.delete_route that, like EC2, refuses to delete the local route and an IPv6 CIDR given as DestinationCidrBlock."""
    route_table = self.get_route_table(route_table_id)
    _validate_ipv4_destination(destination_cidr_block)
    destination = destination_prefix_list_id or destination_ipv6_cidr_block or destination_cidr_block
    for route in route_table._routes.values():  # pylint: disable=protected-access
        if route.local and destination_key(route_destination(route)) == destination_key(destination):
            raise LocalRouteDeletionError(route_table_id, destination)
    return original(RouteBackend, "delete_route")(self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block, destination_prefix_list_id)


def install():
    """Patch moto's route backend and Route model (called once, by behaviours.install())."""
    patch(RouteBackend, "create_route", create_route)
    patch(RouteBackend, "replace_route", replace_route)
    patch(RouteBackend, "delete_route", delete_route)
    patch(Route, "state", property(_static_route_state))
