# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EC2 fidelity layer: moto, corrected where DX/VPN route failover depends on EC2.

The project's tests, and the local lab as its "region" API endpoint, talk to moto.
moto differs from EC2 on exactly the calls this collection makes, so this module
patches moto's EC2 backend and response classes (once, through ``install()``) to
behave like EC2 for them.  It is used in two ways:

* in-process: ``install()`` then ``serve()`` (or moto's ``mock_aws``);
* as a process: ``python tools/ec2_fidelity.py --host 127.0.0.1 --port 5000``
  serves until SIGTERM/SIGINT and prints its URL (one line, e.g.
  ``http://127.0.0.1:5000``) on stdout once it accepts requests.

What moto does, and what the layer changes
------------------------------------------
1. CreateRoute duplicates.  moto checks duplicates for IPv4 destinations only,
   skips the check when ``NetworkInterfaceId`` is given and then silently
   overwrites the existing route, and lets a route replace the ``local`` one.
   EC2 answers ``RouteAlreadyExists`` (HTTP 400) for every target kind, for IPv4,
   IPv6 and prefix-list destinations, whenever the table already holds a static
   or local route for that destination.  A destination that only has a
   *propagated* route is not a duplicate: the static route is created and both
   are listed (the static one wins for traffic, as on EC2).
2. EnableVgwRoutePropagation / DisableVgwRoutePropagation are not implemented
   in moto (HTTP 500).  The layer implements them with EC2's errors: unknown
   route table -> ``InvalidRouteTableID.NotFound``; unknown VGW ->
   ``InvalidVpnGatewayID.NotFound``; on enable, a VGW not attached to the route
   table's VPC -> ``Gateway.NotAttached`` (the code EC2 returns while an
   attachment is not complete).  Enabling twice is a no-op.  Disabling a VGW
   that does not propagate into the table succeeds as a no-op: EC2 documents
   no error for it and tooling treats the call as idempotent (a judgement call,
   not verified against EC2).
3. Propagated routes.  DescribeRouteTables shows ``PropagatingVgws`` and, for
   each propagating VGW that is attached (state ``attached``) to the table's
   VPC, one route per prefix the VGW has learned over the DX BGP session:
   ``{DestinationCidrBlock | DestinationIpv6CidrBlock, GatewayId: vgw-...,
   Origin: EnableVgwRoutePropagation, State: active}``.  They are computed on
   every read, so they follow the learned prefixes (session down -> empty set
   -> routes gone) and the VGW attachment.  The ``route.*`` filters
   (``destination-cidr-block``, ``destination-ipv6-cidr-block``,
   ``gateway-id``, ``origin``, ``state``, and moto's other ones) see static
   and propagated routes alike.
4. DeleteRoute / ReplaceRoute only act on static routes (propagated routes are
   not stored with them), so a destination that only has a propagated route
   answers ``InvalidRoute.NotFound`` / ``InvalidParameterValue`` like EC2.
   DeleteRoute of the ``local`` route answers ``InvalidParameterValue``
   instead of deleting it.
5. A ``NetworkInterfaceId`` (CreateRoute, ReplaceRoute) whose interface is in
   another VPC than the route table, or a VGW ``GatewayId`` not
   attached to that VPC, is refused with ``InvalidParameterValue`` "route table
   ... and network ... belong to different networks"; moto accepts both.
6. A static route whose interface was deleted, or whose VGW is no longer
   attached to the table's VPC, shows ``State: blackhole``; moto always says
   ``active``.

Already right in moto (covered by tests, not changed): ``Origin`` of static
(``CreateRoute``) and local (``CreateRouteTable``) routes, ``SourceDestCheck``
through ModifyNetworkInterfaceAttribute and DescribeNetworkInterfaces, the
``InvalidParameterValue`` of ReplaceRoute for a destination without a static
route, error responses with HTTP 400.

Known remaining differences (not fixed)
---------------------------------------
* Error messages are close to EC2's but not guaranteed word for word; the codes
  are EC2's.
* A route to an interface attached to an instance does not carry
  ``InstanceId`` / ``InstanceOwnerId``.
* Local Zones are not in moto's zone list: subnets cannot be created in e.g.
  ``us-east-1-bos-1a`` (the test world falls back to ``us-east-1a``).
* Routes are not longest-prefix-matched or evaluated for traffic; nothing here
  forwards packets.
* Learned prefixes equal to or inside the VPC CIDR are shown as propagated
  routes; EC2 does not let a propagated route shadow ``local``.
* ReplaceRoute of the ``local`` route (``LocalTarget``), CreateRoute parameter
  combination errors (two targets), DryRun of the propagation calls, blackhole
  for targets other than interfaces and VGWs, eventual consistency and
  ``attaching``/``detaching`` transitions are not reproduced.
* A VGW whose learned prefixes are set but which has no VPN connection or DX
  virtual interface in moto still propagates: the learned set stands for the
  BGP session state.

Control API (the learned prefixes of a VGW)
-------------------------------------------
In-process: ``set_vgw_learned_prefixes(vgw_id, prefixes)`` replaces the whole
set (``[]`` = BGP session down), ``get_vgw_learned_prefixes(vgw_id)`` reads it.
Over HTTP, on the same server as the EC2 API:

* ``PUT /_fidelity/vgw/<vgw_id>/prefixes`` with a JSON body
  ``{"prefixes": ["198.19.0.0/24", "2001:db8:100::/56"], "region": "us-east-1"}``
  (``region`` optional, default ``us-east-1``) replaces the set;
* ``GET /_fidelity/vgw/<vgw_id>/prefixes?region=us-east-1`` reads it;
* both answer ``200 {"vgw_id": ..., "region": ..., "prefixes": [...]}``, or
  ``{"error": {"code": ..., "message": ...}}`` with 400 (bad JSON or CIDR),
  404 (unknown VGW or path) or 405 (other method);
* ``GET /_fidelity/health`` answers ``200 {"status": "ok"}``.

Control API (API faults)
------------------------
The server can answer EC2 requests with errors, or slowly, the way EC2 does
when it throttles, fails, or rejects credentials.  A fault rule names an
``action`` (``CreateRoute``, or ``*`` for any) and is served to the next
``count`` EC2 requests with that Action (``-1``: until cleared).  Each of those
requests waits ``delay_ms``, then gets EC2's query-protocol error body
(``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>``)
with ``code``, ``message`` and HTTP ``status``; with ``code: null`` (and a
``delay_ms``) it is answered normally after the delay, a slow API.

* ``PUT /_fidelity/faults`` with ``{"action": "CreateRoute", "code":
  "RequestLimitExceeded", "status": 503, "count": 3, "delay_ms": 0,
  "message": "..."}`` appends a rule and answers ``200 {"rule": {...}}``.
  Only ``action`` and one of ``code`` / ``delay_ms`` are needed: ``count``
  defaults to 1, ``delay_ms`` to 0, ``status`` and ``message`` to EC2's for the
  code (``RequestLimitExceeded`` 503, ``InternalError`` 500, ``Unavailable``
  503, ``AuthFailure`` 401, ``RequestExpired`` and ``ExpiredToken`` 400; 400 for
  other codes).  A bad body (not JSON, unknown field, ``count`` not ``-1`` or
  >= 1, ``status`` outside 400-599, ``delay_ms`` outside 0-300000, neither
  code nor delay) answers 400 and adds nothing.
* ``GET /_fidelity/faults`` answers ``200 {"rules": [{"id", "action", "code",
  "status", "count", "remaining", "delay_ms", "message"}, ...], "requests":
  {Action: n}, "faults": {Action: n}, "delayed": {Action: n}}``: the active
  rules in order (``remaining`` -1 = unlimited; exhausted rules are dropped),
  and per Action the EC2 requests seen, the error responses served and the
  requests delayed since the last reset (a CreateRoute retried through three
  throttles shows ``requests`` 4 and ``faults`` 3).
* ``DELETE /_fidelity/faults`` drops the rules and zeroes the counters, as does
  moto's ``POST /moto-api/reset``; it answers like GET.

The rules are checked in the order they were added and the first one that
matches serves the request.  A request is EC2's when its SigV4 credential scope
names ``ec2`` (or, unsigned, it carries EC2's ``Version=2016-11-15``); its
Action is read from the query string or the form-encoded body, which is put
back for moto.  Rules apply to every region and account, and only to requests
that come over HTTP (not to moto's in-process ``mock_aws``).  In-process:
``add_fault(action, code, status=, count=, delay_ms=, message=)`` (ValueError
for a bad rule), ``clear_faults()``, ``fault_stats()``; thread-safe.

Python API
----------
``install()``; ``serve(host="127.0.0.1", port=0, log_requests=False)`` ->
``FidelityServer`` (``.url``, ``.host``, ``.port``, ``.stop()``);
``set_vgw_learned_prefixes`` / ``get_vgw_learned_prefixes``;
``add_fault`` / ``clear_faults`` / ``fault_stats``; ``main(argv)``.

Prefixes must be CIDRs without host bits; they are stored in canonical form.
The default moto account (``123456789012``) is used.  The state lives on moto's
model objects, so moto's own ``POST /moto-api/reset`` (or ``mock_aws`` ending)
clears learned prefixes and propagation along with everything else.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from dataclasses import replace
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import EmptyResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.exceptions import InvalidDestinationCIDRBlockParameterError
from moto.ec2.exceptions import InvalidVpnGatewayIdError
from moto.ec2.exceptions import RouteAlreadyExistsError
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import Route
from moto.ec2.models.route_tables import RouteBackend
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.responses.route_tables import RouteTables
from moto.moto_api._internal.models import MotoAPIBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

DEFAULT_REGION = "us-east-1"
ORIGIN_PROPAGATED = "EnableVgwRoutePropagation"
CONTROL_PREFIX = "/_fidelity/"

# Attribute names the layer adds to moto's model objects.  Keeping the state on
# the objects (not in module globals) is what makes moto's reset clear it.
_LEARNED_ATTR = "fidelity_learned_prefixes"
_PROPAGATING_ATTR = "fidelity_propagating_vgw_ids"

_INSTALL_LOCK = threading.Lock()
_INSTALLED = threading.Event()
# moto's own methods, by "Class.name", for the replacements that extend them.
_ORIGINALS: dict = {}


# --------------------------------------------------------------------------- errors


class GatewayNotAttachedError(EC2ClientError):
    """EC2's answer to a propagation request for a VGW not attached to the table's VPC."""

    def __init__(self, gateway_id, vpc_id):
        super().__init__("Gateway.NotAttached", f"resource {gateway_id} is not attached to network {vpc_id}")


class DifferentNetworksError(EC2ClientError):
    """EC2's answer to a route whose target is outside the route table's VPC."""

    def __init__(self, route_table_id, kind, target_id):
        super().__init__("InvalidParameterValue", f"route table {route_table_id} and network {kind} {target_id} belong to different networks")


class LocalRouteDeletionError(EC2ClientError):
    """EC2 never deletes the route of the VPC's own CIDR."""

    def __init__(self, route_table_id, cidr):
        super().__init__("InvalidParameterValue", f"cannot remove local route {cidr} in route table {route_table_id}")


# --------------------------------------------------------------------------- model


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


def _destination_key(destination):
    # EC2 compares destinations as networks: 2001:DB8::/56 and 2001:db8::/56 collide.
    try:
        return ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return destination


def _route_destination(route):
    return route.destination_cidr_block or route.destination_ipv6_cidr_block or route.destination_prefix_list_id


def _vgw_attached_to(vgw, vpc_id):
    attachment = vgw.attachments.get(vpc_id)
    return vgw.state != "deleted" and attachment is not None and attachment.state == "attached"


def _learned_prefixes(vgw):
    return list(getattr(vgw, _LEARNED_ATTR, ()))


def _propagating_vgw_ids(route_table):
    # Tables created before install() have no list yet; setdefault gives them one.
    return vars(route_table).setdefault(_PROPAGATING_ATTR, [])


def _propagated_routes(route_table):
    routes = []
    for vgw_id in _propagating_vgw_ids(route_table):
        vgw = route_table.ec2_backend.vpn_gateways.get(vgw_id)
        if vgw is None or not _vgw_attached_to(vgw, route_table.vpc_id):
            continue
        for prefix in _learned_prefixes(vgw):
            is_ipv6 = ipaddress.ip_network(prefix).version == 6
            routes.append(PropagatedRoute(None if is_ipv6 else prefix, prefix if is_ipv6 else None, vgw_id))
    return routes


def _all_routes(route_table):
    return list(route_table._routes.values()) + _propagated_routes(route_table)  # pylint: disable=protected-access


def _propagating_vgws(route_table):
    return [{"GatewayId": vgw_id} for vgw_id in _propagating_vgw_ids(route_table)]


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


def _route_table_filter_value(route_table, filter_name, method_name=None):
    attribute = _ROUTE_FILTER_ATTRIBUTES.get(filter_name)
    if attribute is None:
        return _ORIGINALS["RouteTable.get_filter_value"](route_table, filter_name, method_name)
    values = (getattr(route, attribute, None) for route in _all_routes(route_table))
    return [value for value in values if value is not None]


def _static_route_state(route):
    backend = route.route_table.ec2_backend
    if route.interface is not None and route.interface.id not in backend.enis:
        return "blackhole"
    gateway = route.gateway
    if gateway is not None and gateway.id.startswith("vgw-") and not _vgw_attached_to(gateway, route.route_table.vpc_id):
        return "blackhole"
    return "active"


# --------------------------------------------------------------------------- backend


def _reject_duplicate_destination(route_table, destination):
    wanted = _destination_key(destination)
    for route in route_table._routes.values():  # pylint: disable=protected-access
        if _destination_key(_route_destination(route)) == wanted:
            raise RouteAlreadyExistsError(destination)


def _reject_foreign_interface(backend, route_table, interface_id):
    if interface_id:
        interface = backend.get_network_interface(interface_id)
        if interface.subnet.vpc_id != route_table.vpc_id:
            raise DifferentNetworksError(route_table.id, "interface", interface_id)


def _reject_unattached_vgw(backend, route_table, gateway_id):
    if gateway_id and gateway_id.startswith("vgw-"):
        if not _vgw_attached_to(backend.get_vpn_gateway(gateway_id), route_table.vpc_id):
            raise DifferentNetworksError(route_table.id, "gateway", gateway_id)


def _validate_ipv4_destination(destination_cidr_block):
    # moto validates the IPv4 text only for some target kinds; EC2 always does.
    if destination_cidr_block:
        try:
            ipaddress.IPv4Network(destination_cidr_block, strict=False)
        except ValueError:
            raise InvalidDestinationCIDRBlockParameterError(destination_cidr_block) from None


def create_route(  # pylint: disable=too-many-arguments,too-many-positional-arguments  # moto's signature
        self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block=None, destination_prefix_list_id=None, local=False, **targets):
    """RouteBackend.create_route with EC2's duplicate and same-network checks."""
    if not local:
        route_table = self.get_route_table(route_table_id)
        _validate_ipv4_destination(destination_cidr_block)
        _reject_duplicate_destination(route_table, destination_cidr_block or destination_ipv6_cidr_block or destination_prefix_list_id)
        _reject_foreign_interface(self, route_table, targets.get("interface_id"))
        _reject_unattached_vgw(self, route_table, targets.get("gateway_id"))
    return _ORIGINALS["RouteBackend.create_route"](
        self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block, destination_prefix_list_id, local=local, **targets)


def replace_route(self, route_table_id, destination_cidr_block, *args, **kwargs):
    """RouteBackend.replace_route with EC2's same-network checks on the new target."""
    route_table = self.get_route_table(route_table_id)
    _reject_foreign_interface(self, route_table, kwargs.get("interface_id"))
    _reject_unattached_vgw(self, route_table, kwargs.get("gateway_id"))
    return _ORIGINALS["RouteBackend.replace_route"](self, route_table_id, destination_cidr_block, *args, **kwargs)


def delete_route(self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block=None, destination_prefix_list_id=None):
    """RouteBackend.delete_route that, like EC2, refuses to delete the local route."""
    route_table = self.get_route_table(route_table_id)
    destination = destination_prefix_list_id or destination_ipv6_cidr_block or destination_cidr_block
    for route in route_table._routes.values():  # pylint: disable=protected-access
        if route.local and _destination_key(_route_destination(route)) == _destination_key(destination):
            raise LocalRouteDeletionError(route_table_id, destination)
    return _ORIGINALS["RouteBackend.delete_route"](self, route_table_id, destination_cidr_block, destination_ipv6_cidr_block, destination_prefix_list_id)


def enable_vgw_route_propagation(self, route_table_id, gateway_id):
    """Let the VGW's learned prefixes appear in the route table."""
    route_table = self.get_route_table(route_table_id)
    vgw = self.get_vpn_gateway(gateway_id)
    if not _vgw_attached_to(vgw, route_table.vpc_id):
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


# --------------------------------------------------------------------------- responses


def enable_vgw_route_propagation_action(self):
    """EC2 query action EnableVgwRoutePropagation."""
    self.ec2_backend.enable_vgw_route_propagation(self._get_param("RouteTableId"), self._get_param("GatewayId"))  # pylint: disable=protected-access
    return EmptyResult()


def disable_vgw_route_propagation_action(self):
    """EC2 query action DisableVgwRoutePropagation."""
    self.ec2_backend.disable_vgw_route_propagation(self._get_param("RouteTableId"), self._get_param("GatewayId"))  # pylint: disable=protected-access
    return EmptyResult()


# --------------------------------------------------------------------------- install


def _patch(owner, name, replacement):
    _ORIGINALS[f"{owner.__name__}.{name}"] = owner.__dict__.get(name)
    setattr(owner, name, replacement)


def install():
    """Patch moto's EC2 classes (idempotent; safe to call from several places)."""
    with _INSTALL_LOCK:
        if _INSTALLED.is_set():
            return
        _patch(RouteBackend, "create_route", create_route)
        _patch(RouteBackend, "replace_route", replace_route)
        _patch(RouteBackend, "delete_route", delete_route)
        _patch(RouteBackend, "enable_vgw_route_propagation", enable_vgw_route_propagation)
        _patch(RouteBackend, "disable_vgw_route_propagation", disable_vgw_route_propagation)
        _patch(RouteTable, "routes", property(_all_routes))
        _patch(RouteTable, "propagating_vgws", property(_propagating_vgws))
        _patch(RouteTable, "get_filter_value", _route_table_filter_value)
        _patch(Route, "state", property(_static_route_state))
        # moto dispatches an action to the response method of the same snake_case name.
        _patch(RouteTables, "enable_vgw_route_propagation", enable_vgw_route_propagation_action)
        _patch(RouteTables, "disable_vgw_route_propagation", disable_vgw_route_propagation_action)
        _patch(MotoAPIBackend, "reset", _reset_moto_and_faults)
        _INSTALLED.set()


def is_installed():
    """Tell whether install() has patched moto in this process."""
    return _INSTALLED.is_set()


# --------------------------------------------------------------------------- learned prefixes


def _vpn_gateway(vgw_id, account_id, region):
    try:
        return ec2_backends[account_id][region].get_vpn_gateway(vgw_id)
    except InvalidVpnGatewayIdError:
        raise LookupError(f"unknown VGW {vgw_id} in account {account_id}, region {region}") from None


def set_vgw_learned_prefixes(vgw_id, prefixes, account_id=DEFAULT_ACCOUNT_ID, region=DEFAULT_REGION):
    """Replace the prefixes the VGW learned over its DX BGP session; [] means the session is down.

    Raises LookupError for an unknown VGW, ValueError for a prefix that is not a CIDR
    without host bits.  Returns the stored (canonical, de-duplicated) list.
    """
    canonical = list(dict.fromkeys(canonical_prefix(prefix) for prefix in prefixes))
    setattr(_vpn_gateway(vgw_id, account_id, region), _LEARNED_ATTR, tuple(canonical))
    return canonical


def get_vgw_learned_prefixes(vgw_id, account_id=DEFAULT_ACCOUNT_ID, region=DEFAULT_REGION):
    """Return the prefixes the VGW currently has learned (LookupError for an unknown VGW)."""
    return _learned_prefixes(_vpn_gateway(vgw_id, account_id, region))


# --------------------------------------------------------------------------- API faults

EC2_API_VERSION = "2016-11-15"
MAX_FAULT_DELAY_MS = 300_000
# EC2's HTTP status and message for the error codes the failover has to live through.
_FAULT_DEFAULTS = {
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "InternalError": (500, "An internal error has occurred."),
    "InternalFailure": (500, "The request processing has failed because of an unknown error."),
    "Unavailable": (503, "The server is overloaded and can't handle the request."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "AuthFailure": (401, "AWS was not able to validate the provided access credentials"),
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "RequestExpired": (400, "Request has expired."),
    "ExpiredToken": (400, "The security token included in the request is expired"),
}
_FAULT_FIELDS = frozenset(("action", "code", "status", "count", "delay_ms", "message"))
_ACTION_PATTERN = re.compile(r"^(\*|[A-Za-z0-9]+)$")
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9.]+$")
_SIGV4_SERVICE = re.compile(r"Credential=[^/,\s]+/[^/,\s]+/[^/,\s]+/([^/,\s]+)/aws4_request")


@dataclass
class FaultRule:  # pylint: disable=too-many-instance-attributes
    """One fault rule; ``remaining`` -1 means until cleared."""

    rule_id: int
    action: str
    code: str | None
    status: int | None
    count: int
    delay_ms: int
    message: str | None
    remaining: int

    def as_dict(self):
        """The rule as the control API shows it."""
        return {"id": self.rule_id, "action": self.action, "code": self.code, "status": self.status, "count": self.count,
                "remaining": self.remaining, "delay_ms": self.delay_ms, "message": self.message}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _checked_fault(spec):
    """Validate a rule given as a dict of the control API fields; return its canonical fields or raise ValueError."""
    unknown = sorted(set(spec) - _FAULT_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    action, code = spec.get("action", "*"), spec.get("code")
    count, delay_ms = spec.get("count", 1), spec.get("delay_ms", 0)
    if not isinstance(action, str) or not _ACTION_PATTERN.match(action):
        raise ValueError('"action" must be an EC2 Action name or "*"')
    if code is not None and (not isinstance(code, str) or not _CODE_PATTERN.match(code)):
        raise ValueError('"code" must be an EC2 error code or null')
    if not _is_int(count) or (count < 1 and count != -1):
        raise ValueError('"count" must be -1 (until cleared) or an integer >= 1')
    if not _is_int(delay_ms) or not 0 <= delay_ms <= MAX_FAULT_DELAY_MS:
        raise ValueError(f'"delay_ms" must be an integer from 0 to {MAX_FAULT_DELAY_MS}')
    if code is None:
        if delay_ms == 0:
            raise ValueError('a rule needs a "code" (error) or a "delay_ms" (slow answer)')
        if spec.get("status") is not None or spec.get("message") is not None:
            raise ValueError('"status" and "message" need a "code"')
        return {"action": action, "code": None, "status": None, "count": count, "delay_ms": delay_ms, "message": None}
    default_status, default_message = _FAULT_DEFAULTS.get(code, (400, f"Injected fault {code}."))
    status, message = spec.get("status", default_status), spec.get("message", default_message)
    if not _is_int(status) or not 400 <= status <= 599:
        raise ValueError('"status" must be an HTTP error status from 400 to 599')
    if not isinstance(message, str):
        raise ValueError('"message" must be a string')
    return {"action": action, "code": code, "status": status, "count": count, "delay_ms": delay_ms, "message": message}


class _FaultInjector:
    """The fault rules and per-Action counters, shared by the server's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._next_id = 1
        self._requests = Counter()
        self._faults = Counter()
        self._delayed = Counter()

    def add(self, spec):
        """Append a rule from a dict of control API fields; return it (ValueError for a bad one)."""
        fields = _checked_fault(spec)
        with self._lock:
            rule = FaultRule(rule_id=self._next_id, remaining=fields["count"], **fields)
            self._next_id += 1
            self._rules.append(rule)
            return rule.as_dict()

    def clear(self):
        """Drop every rule and zero the counters."""
        with self._lock:
            self._rules.clear()
            self._next_id = 1
            self._requests.clear()
            self._faults.clear()
            self._delayed.clear()

    def stats(self):
        """Active rules and per-Action counters (see the module docstring)."""
        with self._lock:
            return {"rules": [rule.as_dict() for rule in self._rules], "requests": dict(self._requests),
                    "faults": dict(self._faults), "delayed": dict(self._delayed)}

    def take(self, action):
        """Count an EC2 request; return a copy of the rule that serves it (one use of it spent), or None."""
        with self._lock:
            self._requests[action] += 1
            rule = next((rule for rule in self._rules if rule.action in ("*", action)), None)
            if rule is None:
                return None
            if rule.remaining > 0:
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
            (self._faults if rule.code else self._delayed)[action] += 1
            return replace(rule)


_FAULTS = _FaultInjector()


def add_fault(action="*", code=None, *, status=None, count=1, delay_ms=0, message=None):  # pylint: disable=too-many-arguments
    """Append a fault rule (see the module docstring); return it as a dict.  ValueError for a bad rule."""
    spec = {"action": action, "code": code, "count": count, "delay_ms": delay_ms}
    spec.update({name: value for name, value in (("status", status), ("message", message)) if value is not None})
    return _FAULTS.add(spec)


def clear_faults():
    """Drop every fault rule and zero the request and fault counters."""
    _FAULTS.clear()


def fault_stats():
    """``{"rules": [...], "requests": {Action: n}, "faults": {Action: n}, "delayed": {Action: n}}``."""
    return _FAULTS.stats()


def _reset_moto_and_faults(self):
    """MotoAPIBackend.reset (moto's POST /moto-api/reset) that also clears the fault rules."""
    _ORIGINALS["MotoAPIBackend.reset"](self)
    clear_faults()


def _peek_form_body(environ):
    """The form-encoded body of the request, put back into ``wsgi.input`` for moto to read."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


def _ec2_action(environ):
    """The Action of an EC2 query-protocol request, or None for anything else."""
    params = parse_qs(environ.get("QUERY_STRING", ""))
    params.update(parse_qs(_peek_form_body(environ)))
    action = (params.get("Action") or [None])[0]
    if not action:
        return None
    scope = _SIGV4_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is not None:
        return action if scope.group(1) == "ec2" else None
    return action if (params.get("Version") or [None])[0] == EC2_API_VERSION else None


def _ec2_error_response(code, message, status):
    request_id = str(uuid.uuid4())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{xml_escape(code)}</Code>'
            f"<Message>{xml_escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
    return Response(body, status=status, content_type="text/xml;charset=UTF-8", headers={"x-amzn-RequestId": request_id})


def _fault_response(environ):
    """Apply the fault rule that matches the request: sleep, then an error Response, or None to let moto answer."""
    action = _ec2_action(environ)
    rule = _FAULTS.take(action) if action else None
    if rule is None:
        return None
    if rule.delay_ms:
        time.sleep(rule.delay_ms / 1000.0)
    return _ec2_error_response(rule.code, rule.message, rule.status) if rule.code else None


# --------------------------------------------------------------------------- HTTP control endpoint


def _json_response(status, body):
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status, code, message):
    return _json_response(status, {"error": {"code": code, "message": message}})


def _prefixes_body(vgw_id, region, prefixes):
    return {"vgw_id": vgw_id, "region": region, "prefixes": prefixes}


def _region_known(region):
    return region in ec2_backends[DEFAULT_ACCOUNT_ID].regions


def _put_prefixes(request, vgw_id):
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return _error(400, "InvalidJson", "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("prefixes"), list):
        return _error(400, "MissingParameter", 'the body must be an object with a list "prefixes"')
    region = body.get("region") or DEFAULT_REGION
    if not _region_known(region):
        return _error(400, "InvalidRegion", f"unknown region {region}")
    try:
        stored = set_vgw_learned_prefixes(vgw_id, body["prefixes"], region=region)
    except ValueError as exc:
        return _error(400, "InvalidParameterValue", str(exc))
    except LookupError as exc:
        return _error(404, "InvalidVpnGatewayID.NotFound", str(exc))
    return _json_response(200, _prefixes_body(vgw_id, region, stored))


def _get_prefixes(request, vgw_id):
    region = request.args.get("region") or DEFAULT_REGION
    if not _region_known(region):
        return _error(400, "InvalidRegion", f"unknown region {region}")
    try:
        return _json_response(200, _prefixes_body(vgw_id, region, get_vgw_learned_prefixes(vgw_id, region=region)))
    except LookupError as exc:
        return _error(404, "InvalidVpnGatewayID.NotFound", str(exc))


def _faults_response(request):
    if request.method == "PUT":
        return _put_fault(request)
    if request.method == "DELETE":
        clear_faults()
    elif request.method != "GET":
        return _error(405, "MethodNotAllowed", "use GET, PUT or DELETE")
    return _json_response(200, fault_stats())


def _put_fault(request):
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return _error(400, "InvalidJson", "the body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "InvalidParameterValue", "the body must be a JSON object")
    try:
        return _json_response(200, {"rule": _FAULTS.add(body)})
    except ValueError as exc:
        return _error(400, "InvalidParameterValue", str(exc))


def _control_response(request):
    parts = request.path[len(CONTROL_PREFIX):].strip("/").split("/")
    if parts == ["faults"]:
        return _faults_response(request)
    if parts == ["health"]:
        return _json_response(200, {"status": "ok"}) if request.method == "GET" else _error(405, "MethodNotAllowed", "use GET")
    if len(parts) == 3 and parts[0] == "vgw" and parts[2] == "prefixes":
        if request.method == "PUT":
            return _put_prefixes(request, parts[1])
        if request.method == "GET":
            return _get_prefixes(request, parts[1])
        return _error(405, "MethodNotAllowed", "use GET or PUT")
    return _error(404, "NotFound", f"no control resource at {request.path}")


class FidelityApp:  # pylint: disable=too-few-public-methods
    """WSGI app: the control endpoint under /_fidelity/, injected API faults, everything else to moto."""

    def __init__(self):
        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return _control_response(Request(environ))(environ, start_response)
        fault = None if path.startswith("/moto-api") else _fault_response(environ)
        if fault is not None:
            return fault(environ, start_response)
        return self.moto_app(environ, start_response)


# --------------------------------------------------------------------------- server


class _QuietRequestHandler(MotoRequestHandler):
    # One log line per API call drowns test and lab output; errors are still logged.
    def log_request(self, code="-", size="-"):
        pass


class FidelityServer:
    """A threaded HTTP server with moto's API, the fidelity layer and the control endpoint."""

    def __init__(self, host="127.0.0.1", port=0, log_requests=False):
        handler = MotoRequestHandler if log_requests else _QuietRequestHandler
        self._server = make_server(host, port, FidelityApp(), threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ec2-fidelity", daemon=True)

    @property
    def host(self):
        """The address the server listens on."""
        return self._server.server_address[0]

    @property
    def port(self):
        """The TCP port the server listens on (the chosen one when asked for port 0)."""
        return self._server.server_address[1]

    @property
    def url(self):
        """The endpoint URL to hand to boto3 (a wildcard bind is reached through loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self):
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(host="127.0.0.1", port=0, log_requests=False):
    """install() and return a started FidelityServer (port 0 picks a free port)."""
    install()
    return FidelityServer(host, port, log_requests=log_requests).start()


def main(argv=None):
    """Run the fidelity server in the foreground until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="moto EC2 API with the localzones.failover fidelity layer")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="TCP port, 0 for a free one (default 5000)")
    parser.add_argument("--log-requests", action="store_true", help="log one line per request")
    args = parser.parse_args(argv)

    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    server = serve(args.host, args.port, log_requests=args.log_requests)
    print(server.url, flush=True)
    # A timed wait keeps the main thread returning to the interpreter, where signal handlers run.
    while not stop_requested.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
