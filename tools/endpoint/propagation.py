# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VGW route propagation: the routes a VGW puts in a route table from the prefixes it learned over DX.

* EnableVgwRoutePropagation / DisableVgwRoutePropagation are not implemented
  in moto (HTTP 500).  They are implemented here with EC2's errors: unknown
  route table -> ``InvalidRouteTableID.NotFound``; unknown VGW ->
  ``InvalidVpnGatewayID.NotFound``; on enable, a VGW not attached to the route
  table's VPC -> ``Gateway.NotAttached`` (the code EC2 returns while an
  attachment is not complete).  Enabling twice is a no-op.  Disabling a VGW
  that does not propagate into the table succeeds as a no-op: EC2 documents
  no error for it and tooling treats the call as idempotent (a judgement call,
  not verified against EC2).
* Propagated routes.  DescribeRouteTables shows ``PropagatingVgws`` and, for
  each propagating VGW that is attached (state ``attached``) to the table's
  VPC, one route per prefix the VGW has learned over the DX BGP session:
  ``{DestinationCidrBlock | DestinationIpv6CidrBlock, GatewayId: vgw-...,
  Origin: EnableVgwRoutePropagation, State: active}``.  They are computed on
  every read, so they follow the learned prefixes (session down -> empty set
  -> routes gone) and the VGW attachment.  The ``route.*`` filters
  (``destination-cidr-block``, ``destination-ipv6-cidr-block``,
  ``gateway-id``, ``origin``, ``state``, and moto's other ones) see static
  and propagated routes alike.

Known differences: learned prefixes equal to or inside the VPC CIDR are shown
as propagated routes (EC2 does not let a propagated route shadow ``local``); a
VGW whose learned prefixes are set but which has no VPN connection or DX
virtual interface in moto still propagates: the learned set stands for the BGP
session state; DryRun of the propagation calls is not reproduced.

Control API (the learned prefixes of a VGW)
-------------------------------------------
* ``PUT /_fidelity/vgw/<vgw_id>/prefixes`` with a JSON body
  ``{"prefixes": ["198.19.0.0/24", "2001:db8:100::/56"], "region": "us-east-1"}``
  (``region`` optional, default ``us-east-1``) replaces the set (``[]`` = BGP
  session down);
* ``GET /_fidelity/vgw/<vgw_id>/prefixes?region=us-east-1`` reads it;
* both answer ``200 {"vgw_id": ..., "region": ..., "prefixes": [...]}``, or
  ``{"error": {"code": ..., "message": ...}}`` with 400 (bad JSON or CIDR),
  404 (unknown VGW) or 405 (other method).

In-process: ``set_vgw_learned_prefixes(vgw_id, prefixes, region=)`` replaces
the whole set, ``get_vgw_learned_prefixes(vgw_id, region=)`` reads it.
Prefixes must be CIDRs without host bits; they are stored in canonical form.
The state lives on moto's model objects (the VGW, the route table), so moto's
reset clears learned prefixes and propagation along with everything else.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import EmptyResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.exceptions import InvalidVpnGatewayIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import RouteBackend
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.responses.route_tables import RouteTables

from .patching import original
from .patching import patch
from .protocol import DEFAULT_REGION
from .protocol import json_error
from .protocol import json_response
from .routes import vgw_attached_to

ORIGIN_PROPAGATED = "EnableVgwRoutePropagation"

# Attribute names added to moto's model objects.  Keeping the state on the
# objects (not in module globals) is what makes moto's reset clear it.
_LEARNED_ATTR = "fidelity_learned_prefixes"
_PROPAGATING_ATTR = "fidelity_propagating_vgw_ids"

# The route.* filters EC2 evaluates over every route of a table, propagated ones included.
_ROUTE_FILTER_ATTRIBUTES = {
    "route.destination-cidr-block": "destination_cidr_block",
    "route.destination-ipv6-cidr-block": "destination_ipv6_cidr_block",
    "route.destination-prefix-list-id": "destination_prefix_list_id",
    "route.gateway-id": "gateway_id",
    "route.origin": "origin",
    "route.state": "state",
    "route.instance-id": "instance_id",
    "route.nat-gateway-id": "nat_gateway_id",
    "route.transit-gateway-id": "transit_gateway_id",
    "route.vpc-peering-connection-id": "vpc_peering_connection_id",
    "route.egress-only-internet-gateway-id": "egress_only_internet_gateway_id",
}


class GatewayNotAttachedError(EC2ClientError):
    """EC2's answer to a propagation request for a VGW not attached to the table's VPC."""

    def __init__(self, gateway_id, vpc_id):
        super().__init__("Gateway.NotAttached", f"resource {gateway_id} is not attached to network {vpc_id}")


@dataclass(frozen=True)
class PropagatedRoute:
    """A route the VGW puts in a table; serialized by moto through these attribute names."""

    destination_cidr_block: str | None
    destination_ipv6_cidr_block: str | None
    gateway_id: str
    origin: str = ORIGIN_PROPAGATED
    state: str = "active"


def canonical_prefix(prefix):
    """Return the canonical text of a CIDR without host bits; ValueError otherwise."""
    return str(ipaddress.ip_network(str(prefix), strict=True))


def _learned_prefixes(vgw):
    return list(getattr(vgw, _LEARNED_ATTR, ()))


def _propagating_vgw_ids(route_table):
    # Tables created before install() have no list yet; setdefault gives them one.
    return vars(route_table).setdefault(_PROPAGATING_ATTR, [])


def _propagated_routes(route_table):
    routes = []
    for vgw_id in _propagating_vgw_ids(route_table):
        vgw = route_table.ec2_backend.vpn_gateways.get(vgw_id)
        if vgw is None or not vgw_attached_to(vgw, route_table.vpc_id):
            continue
        for prefix in _learned_prefixes(vgw):
            is_ipv6 = ipaddress.ip_network(prefix).version == 6
            routes.append(PropagatedRoute(None if is_ipv6 else prefix, prefix if is_ipv6 else None, vgw_id))
    return routes


def all_routes(route_table):
    """Every route of the table as DescribeRouteTables lists it: static and local ones, then propagated ones."""
    return list(route_table._routes.values()) + _propagated_routes(route_table)  # pylint: disable=protected-access


def _propagating_vgws(route_table):
    return [{"GatewayId": vgw_id} for vgw_id in _propagating_vgw_ids(route_table)]


def _route_table_filter_value(route_table, filter_name, method_name=None):
    attribute = _ROUTE_FILTER_ATTRIBUTES.get(filter_name)
    if attribute is None:
        return original(RouteTable, "get_filter_value")(route_table, filter_name, method_name)
    values = (getattr(route, attribute, None) for route in all_routes(route_table))
    return [value for value in values if value is not None]


def enable_vgw_route_propagation(self, route_table_id, gateway_id):
    """Let the VGW's learned prefixes appear in the route table."""
    route_table = self.get_route_table(route_table_id)
    vgw = self.get_vpn_gateway(gateway_id)
    if not vgw_attached_to(vgw, route_table.vpc_id):
        raise GatewayNotAttachedError(gateway_id, route_table.vpc_id)
    propagating = _propagating_vgw_ids(route_table)
    if gateway_id not in propagating:
        propagating.append(gateway_id)


def disable_vgw_route_propagation(self, route_table_id, gateway_id):
    """Stop the VGW's propagation into the route table; a no-op if it was not propagating."""
    route_table = self.get_route_table(route_table_id)
    self.get_vpn_gateway(gateway_id)
    propagating = _propagating_vgw_ids(route_table)
    if gateway_id in propagating:
        propagating.remove(gateway_id)


def enable_vgw_route_propagation_action(self):
    """EC2 query action EnableVgwRoutePropagation."""
    self.ec2_backend.enable_vgw_route_propagation(self._get_param("RouteTableId"), self._get_param("GatewayId"))  # pylint: disable=protected-access
    return EmptyResult()


def disable_vgw_route_propagation_action(self):
    """EC2 query action DisableVgwRoutePropagation."""
    self.ec2_backend.disable_vgw_route_propagation(self._get_param("RouteTableId"), self._get_param("GatewayId"))  # pylint: disable=protected-access
    return EmptyResult()


def install():
    """Patch moto's route backend, RouteTable model and route table actions (called once, by behaviours.install())."""
    patch(RouteBackend, "enable_vgw_route_propagation", enable_vgw_route_propagation)
    patch(RouteBackend, "disable_vgw_route_propagation", disable_vgw_route_propagation)
    patch(RouteTable, "routes", property(all_routes))
    patch(RouteTable, "propagating_vgws", property(_propagating_vgws))
    patch(RouteTable, "get_filter_value", _route_table_filter_value)
    # moto dispatches an action to the response method of the same snake_case name.
    patch(RouteTables, "enable_vgw_route_propagation", enable_vgw_route_propagation_action)
    patch(RouteTables, "disable_vgw_route_propagation", disable_vgw_route_propagation_action)


# --------------------------------------------------------------------------- learned prefixes


def _vpn_gateway(vgw_id, region):
    try:
        return ec2_backends[DEFAULT_ACCOUNT_ID][region].get_vpn_gateway(vgw_id)
    except InvalidVpnGatewayIdError:
        raise LookupError(f"unknown VGW {vgw_id} in account {DEFAULT_ACCOUNT_ID}, region {region}") from None


def set_vgw_learned_prefixes(vgw_id, prefixes, region=DEFAULT_REGION):
    """Replace the prefixes the VGW learned over its DX BGP session; [] means the session is down.

    Raises LookupError for an unknown VGW, ValueError for a prefix that is not a CIDR
    without host bits.  Returns the stored (canonical, de-duplicated) list.
    """
    canonical = list(dict.fromkeys(canonical_prefix(prefix) for prefix in prefixes))
    setattr(_vpn_gateway(vgw_id, region), _LEARNED_ATTR, tuple(canonical))
    return canonical


def get_vgw_learned_prefixes(vgw_id, region=DEFAULT_REGION):
    """Return the prefixes the VGW currently has learned (LookupError for an unknown VGW)."""
    return _learned_prefixes(_vpn_gateway(vgw_id, region))


def _prefixes_body(vgw_id, region, prefixes):
    return {"vgw_id": vgw_id, "region": region, "prefixes": prefixes}


def _region_known(region):
    return region in ec2_backends[DEFAULT_ACCOUNT_ID].regions


def _put_prefixes(request, vgw_id):
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return json_error(400, "InvalidJson", "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("prefixes"), list):
        return json_error(400, "MissingParameter", 'the body must be an object with a list "prefixes"')
    region = body.get("region") or DEFAULT_REGION
    if not _region_known(region):
        return json_error(400, "InvalidRegion", f"unknown region {region}")
    try:
        stored = set_vgw_learned_prefixes(vgw_id, body["prefixes"], region=region)
    except ValueError as exc:
        return json_error(400, "InvalidParameterValue", str(exc))
    except LookupError as exc:
        return json_error(404, "InvalidVpnGatewayID.NotFound", str(exc))
    return json_response(200, _prefixes_body(vgw_id, region, stored))


def _get_prefixes(request, vgw_id):
    region = request.args.get("region") or DEFAULT_REGION
    if not _region_known(region):
        return json_error(400, "InvalidRegion", f"unknown region {region}")
    try:
        return json_response(200, _prefixes_body(vgw_id, region, get_vgw_learned_prefixes(vgw_id, region=region)))
    except LookupError as exc:
        return json_error(404, "InvalidVpnGatewayID.NotFound", str(exc))


def learned_prefixes_response(request, vgw_id):
    """Answer a control request for ``/_fidelity/vgw/<vgw_id>/prefixes``."""
    if request.method == "PUT":
        return _put_prefixes(request, vgw_id)
    if request.method == "GET":
        return _get_prefixes(request, vgw_id)
    return json_error(405, "MethodNotAllowed", "use GET or PUT")
