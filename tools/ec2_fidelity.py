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
7. Local Zones.  moto lists only a region's availability zones.  The layer adds
   the Local Zones in ``LOCAL_ZONES`` (for ``us-east-1``: ``us-east-1-bos-1a``,
   zone ID ``use1-bos1-az1``, group ``us-east-1-bos-1``, parent
   ``us-east-1a``, opted in; ``us-east-1-nyc-1a``, ``use1-nyc1-az1``, group
   ``us-east-1-nyc-1``, parent ``us-east-1f``, not opted in).
   DescribeAvailabilityZones answers every zone with ``ZoneType``,
   ``OptInStatus`` (``opt-in-not-required`` for availability zones),
   ``GroupName`` and ``NetworkBorderGroup`` (the region's name for availability
   zones, the zone group for Local Zones) and, for Local Zones,
   ``ParentZoneName`` / ``ParentZoneId``.  A Local Zone whose group is not opted
   in is listed only with ``AllAvailabilityZones=true``, as on EC2.  Filters:
   ``zone-name``, ``zone-id``, ``zone-type``, ``region-name``, ``state``,
   ``group-name``, ``opt-in-status``, ``parent-zone-name``, ``parent-zone-id``,
   ``network-border-group``; another filter name answers
   ``InvalidParameterValue``.  moto's own internal zone list is unchanged, so
   default VPCs still get subnets in availability zones only.
8. ModifyAvailabilityZoneGroup (not in moto) sets a zone group's opt-in status
   (``opted-in`` or ``not-opted-in``) for the account and region; an unknown
   group or status answers ``InvalidParameterValue``.  The status lives on the
   region's EC2 backend, so moto's reset restores the defaults above.
9. CreateSubnet in an opted-in Local Zone (by name or zone ID) creates the
   subnet there (never a default subnet, ``MapPublicIpOnLaunch`` false); in a
   Local Zone that is not opted in it answers ``InvalidParameterValue`` and names
   the zones subnets can be created in (EC2's wording for an unusable zone; the
   exact text EC2 gives for a zone that is not opted in is not verified).
   Instances launched there, and their volumes, are placed in the Local Zone.
10. DescribeInstanceTypeOfferings with ``LocationType`` ``availability-zone``
    (or ``availability-zone-id``) also lists, for each opted-in Local Zone, the
    small set a Local Zone offers: ``t3.medium``, ``t3.xlarge``, ``c5.2xlarge``,
    ``r5.2xlarge``, ``g4dn.2xlarge`` (``LOCAL_ZONE_INSTANCE_TYPES``; no
    ``t2.micro``).  RunInstances into a Local Zone subnet with an instance type
    the zone does not offer answers ``Unsupported`` ("Your requested instance
    type ... is not supported in your requested Availability Zone ..."), with or
    without moto's own instance type validation switched on.  The same holds for
    an instance launched on an existing interface (``NetworkInterfaceId`` at
    device index 0), which is placed in the zone of the interface's subnet
    (moto put it in the region's first zone).
11. Public Debian AMI parameters.  moto serves the Amazon Linux ones
    (``/aws/service/ami-amazon-linux-latest/...``, e.g.
    ``al2023-ami-kernel-default-x86_64``) but none of Debian's.  The layer seeds,
    in every region, ``/aws/service/debian/release/12/latest/amd64`` and
    ``.../arm64`` and their ``bookworm`` aliases (the names Debian publishes),
    each pointing to an image it registers in that region's EC2 backend: owner
    ``136693071363`` (Debian's account), name ``debian-12-amd64-<build>``.  The
    image IDs are made up but stable (``debian_ami_id(region, release,
    architecture)``).
12. Security group rules for an IP protocol without ports (ESP, protocol ``50``;
    GRE, ``47``; any number but TCP, UDP, ICMP and ICMPv6).  moto requires a
    port range for every protocol but ``-1`` and fails with a server error
    without one; EC2 takes such a rule without ports and describes it with
    ``IpProtocol`` ``"50"`` and no ``FromPort`` / ``ToPort``, as the layer does.
13. DescribeTags gives an Elastic IP's tags the resource type ``elastic-ip``, as
    EC2 does (moto said ``vpc-elastic-ip``, so a ``resource-type`` filter of
    ``elastic-ip`` found none and amazon.aws.ec2_eip re-tagged on every run).
14. TerminateInstances detaches, as EC2 does, the instance's interfaces that are
    not deleted on termination (an existing interface it was launched on): they
    stay, ``available`` and without an attachment (moto left them ``in-use``,
    attached to the terminated instance).

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
* Only the Local Zones in ``LOCAL_ZONES`` exist, all with the same instance
  type offerings; Wavelength Zones and Outposts do not.  A Local Zone that is not
  opted in offers no instance types here (EC2 may list them).  Zone names map
  to zone IDs the same way in every account.
* Only the Debian 12 parameters are seeded; other public parameter trees moto
  does not know (Ubuntu, Debian 11, ...) are still missing.
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

Control API (route-table change notification)
---------------------------------------------
A client that mirrors route tables (the lab's VPC router) waits for a change
instead of polling DescribeRouteTables.  The server keeps a version number that
grows by one whenever the effective routes or associations of any route table
change (static, local and propagated routes alike: a CreateRoute, a learned
prefix set, a propagation switched on, moto's reset):

* ``GET /_fidelity/route-tables/version`` answers ``200 {"version": n}`` at once;
* ``GET /_fidelity/route-tables/version?after=N&wait=S`` answers as soon as the
  version is greater than ``N``, or after ``S`` seconds (at most 60) with the
  unchanged version; ``400`` for a bad ``after`` or ``wait``.

In-process: ``route_tables_version()`` and ``wait_for_route_tables_version(after, timeout)``.

Direct Connect
--------------
The same server answers the Direct Connect calls of a failover drill
(DescribeVirtualInterfaces, StartBgpFailoverTest, StopBgpFailoverTest,
ListVirtualInterfaceTestHistory) and has a control API for them under
``/_fidelity/directconnect/``; ``tools/dx_fidelity.py`` documents both.

Python API
----------
``install()``; ``serve(host="127.0.0.1", port=0, log_requests=False)`` ->
``FidelityServer`` (``.url``, ``.host``, ``.port``, ``.stop()``);
``set_vgw_learned_prefixes`` / ``get_vgw_learned_prefixes``;
``add_fault`` / ``clear_faults`` / ``fault_stats``; ``LOCAL_ZONES`` and
``local_zone_spec(region, zone_name=None, zone_id=None)``;
``debian_ami_id(region, release, architecture)``; ``main(argv)``.

Prefixes must be CIDRs without host bits; they are stored in canonical form.
The default moto account (``123456789012``) is used.  The state lives on moto's
model objects, so moto's own ``POST /moto-api/reset`` (or ``mock_aws`` ending)
clears learned prefixes, propagation and zone group opt-ins along with
everything else.
"""

from __future__ import annotations

import argparse
import hashlib
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
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import replace
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.responses import EmptyResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.exceptions import InvalidAvailabilityZoneError
from moto.ec2.exceptions import InvalidDestinationCIDRBlockParameterError
from moto.ec2.exceptions import InvalidVpnGatewayIdError
from moto.ec2.exceptions import RouteAlreadyExistsError
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.models.amis import AmiBackend
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
from moto.ec2.models.availability_zones_and_regions import Zone
from moto.ec2.models.instance_types import InstanceTypeOfferingBackend
from moto.ec2.models.instances import Instance
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.route_tables import Route
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE
from moto.ec2.models.route_tables import RouteBackend
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.models.subnets import SubnetBackend
from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions
from moto.ec2.responses.route_tables import RouteTables
from moto.moto_api._internal.models import MotoAPIBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.moto_server.werkzeug_app import create_backend_app
from moto.ssm.models import Parameter
from moto.ssm.models import ParameterDict
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

try:
    from tools import dx_fidelity
except ImportError:  # run as a script: tools/ itself is on sys.path
    import dx_fidelity

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


# --------------------------------------------------------------------------- Local Zones


@dataclass(frozen=True)
class LocalZoneSpec:
    """A Local Zone the layer adds to a region (moto lists none)."""

    name: str
    zone_id: str
    group_name: str
    parent_zone_name: str
    opted_in: bool  # the opt-in status of its zone group in a fresh account
    instance_types: tuple


# What a small Local Zone offers: a few current-generation families, no t2 and no m1.
LOCAL_ZONE_INSTANCE_TYPES = ("t3.medium", "t3.xlarge", "c5.2xlarge", "r5.2xlarge", "g4dn.2xlarge")
LOCAL_ZONES = {
    "us-east-1": (
        LocalZoneSpec("us-east-1-bos-1a", "use1-bos1-az1", "us-east-1-bos-1", "us-east-1a", True, LOCAL_ZONE_INSTANCE_TYPES),
        LocalZoneSpec("us-east-1-nyc-1a", "use1-nyc1-az1", "us-east-1-nyc-1", "us-east-1f", False, LOCAL_ZONE_INSTANCE_TYPES),
    ),
}
OPTED_IN = "opted-in"
NOT_OPTED_IN = "not-opted-in"
OPT_IN_NOT_REQUIRED = "opt-in-not-required"

_OPT_IN_ATTR = "fidelity_zone_group_opt_in"
# One moto Zone object per Local Zone, shared like moto's own (subnets and volumes point at it).
_LOCAL_ZONE_OBJECTS: dict = {}
# DescribeAvailabilityZones filters and the response keys they match.
_ZONE_FILTER_KEYS = {
    "zone-name": "ZoneName",
    "zone-id": "ZoneId",
    "zone-type": "ZoneType",
    "region-name": "RegionName",
    "state": "State",
    "group-name": "GroupName",
    "opt-in-status": "OptInStatus",
    "parent-zone-name": "ParentZoneName",
    "parent-zone-id": "ParentZoneId",
    "network-border-group": "NetworkBorderGroup",
}


class UnsupportedInstanceTypeError(EC2ClientError):
    """EC2's answer to RunInstances with an instance type the zone does not offer."""

    def __init__(self, instance_type, zone_name):
        super().__init__(
            "Unsupported",
            f"Your requested instance type ({instance_type}) is not supported in your requested Availability Zone ({zone_name}). "
            "Please retry your request by not specifying an Availability Zone or choosing a zone that offers it.")


class InvalidZoneGroupError(EC2ClientError):
    """ModifyAvailabilityZoneGroup for a group the region does not have."""

    def __init__(self, group_name):
        super().__init__("InvalidParameterValue", f"The zone group '{group_name}' is not valid for this region.")


class InvalidZoneFilterError(EC2ClientError):
    """DescribeAvailabilityZones with a filter name EC2 does not know."""

    def __init__(self, filter_name):
        super().__init__("InvalidParameterValue", f"The filter '{filter_name}' is invalid")


def _local_zone_specs(region):
    return LOCAL_ZONES.get(region, ())


def local_zone_spec(region, zone_name=None, zone_id=None):
    """The LocalZoneSpec of ``region`` named ``zone_name`` (or with ``zone_id``), else None."""
    for spec in _local_zone_specs(region):
        if (zone_name and spec.name == zone_name) or (zone_id and spec.zone_id == zone_id):
            return spec
    return None


def _local_zone_object(region, spec):
    zone = _LOCAL_ZONE_OBJECTS.get(spec.name)
    if zone is None:
        zone = Zone(name=spec.name, region_name=region, zone_id=spec.zone_id, zone_type="local-zone")
        zone = _LOCAL_ZONE_OBJECTS.setdefault(spec.name, zone)
    return zone


def _opt_in_statuses(backend):
    # Kept on the region's EC2 backend, so moto's reset forgets every opt-in.
    defaults = {spec.group_name: OPTED_IN if spec.opted_in else NOT_OPTED_IN for spec in _local_zone_specs(backend.region_name)}
    return vars(backend).setdefault(_OPT_IN_ATTR, defaults)


def _is_opted_in(backend, spec):
    return _opt_in_statuses(backend)[spec.group_name] == OPTED_IN


def _region_zone_description(zone):
    return {"ZoneName": zone.name, "ZoneId": zone.zone_id, "ZoneType": zone.zone_type, "RegionName": zone.region_name,
            "State": zone.state, "Messages": [], "OptInStatus": OPT_IN_NOT_REQUIRED, "GroupName": zone.region_name,
            "NetworkBorderGroup": zone.region_name}


def _local_zone_description(backend, spec):
    parent = next((zone for zone in backend.describe_availability_zones() if zone.name == spec.parent_zone_name), None)
    return {"ZoneName": spec.name, "ZoneId": spec.zone_id, "ZoneType": "local-zone", "RegionName": backend.region_name,
            "State": "available", "Messages": [], "OptInStatus": _opt_in_statuses(backend)[spec.group_name],
            "GroupName": spec.group_name, "NetworkBorderGroup": spec.group_name, "ParentZoneName": spec.parent_zone_name,
            "ParentZoneId": parent.zone_id if parent else None}


def _zone_matches(zone, filters):
    for name, values in filters.items():
        if name not in _ZONE_FILTER_KEYS:
            raise InvalidZoneFilterError(name)
        if zone.get(_ZONE_FILTER_KEYS[name]) not in values:
            return False
    return True


def _describe_zones(backend, filters=None, zone_names=(), zone_ids=(), all_availability_zones=False):
    """DescribeAvailabilityZones as EC2 answers it: the region's zones, then its Local Zones.

    A Local Zone whose group is not opted in is listed only with ``all_availability_zones``.
    """
    zones = [_region_zone_description(zone) for zone in backend.describe_availability_zones()]
    zones += [_local_zone_description(backend, spec) for spec in _local_zone_specs(backend.region_name)
              if all_availability_zones or _is_opted_in(backend, spec)]
    return [zone for zone in zones
            if _zone_matches(zone, filters or {})
            and (not zone_names or zone["ZoneName"] in zone_names)
            and (not zone_ids or zone["ZoneId"] in zone_ids)]


def modify_availability_zone_group(self, group_name, opt_in_status):
    """Opt the account in to (or out of) a Local Zone group of the region."""
    statuses = _opt_in_statuses(self)
    if group_name not in statuses:
        raise InvalidZoneGroupError(group_name)
    if opt_in_status not in (OPTED_IN, NOT_OPTED_IN):
        raise EC2ClientError("InvalidParameterValue", f"Value ({opt_in_status}) for parameter OptInStatus is invalid.")
    statuses[group_name] = opt_in_status


def get_zone_by_name(self, name):
    """RegionsAndZonesBackend.get_zone_by_name that also knows the region's Local Zones (volumes of their instances)."""
    zone = _ORIGINALS["RegionsAndZonesBackend.get_zone_by_name"](self, name)
    spec = None if zone is not None else local_zone_spec(self.region_name, name)
    return _local_zone_object(self.region_name, spec) if spec else zone


def _usable_zone_names(backend):
    names = [zone.name for zone in backend.describe_availability_zones()]
    return names + [spec.name for spec in _local_zone_specs(backend.region_name) if _is_opted_in(backend, spec)]


def create_subnet(  # pylint: disable=too-many-arguments,too-many-positional-arguments  # moto's signature
        self, vpc_id, cidr_block, ipv6_cidr_block=None, availability_zone=None, availability_zone_id=None, ipv6_native=False, tags=None):
    """SubnetBackend.create_subnet that also creates subnets in the region's opted-in Local Zones."""
    original = _ORIGINALS["SubnetBackend.create_subnet"]
    spec = local_zone_spec(self.region_name, availability_zone, availability_zone_id)
    if spec is None:
        return original(self, vpc_id, cidr_block, ipv6_cidr_block, availability_zone, availability_zone_id, ipv6_native=ipv6_native, tags=tags)
    if not _is_opted_in(self, spec):
        raise InvalidAvailabilityZoneError(availability_zone or availability_zone_id, ", ".join(_usable_zone_names(self)))
    # moto only knows the parent zone: create the subnet there, then move it to the Local Zone.
    subnet = original(self, vpc_id, cidr_block, ipv6_cidr_block, spec.parent_zone_name, None, ipv6_native=ipv6_native, tags=tags)
    self.subnets[spec.parent_zone_name].pop(subnet.id)
    self.subnets[spec.name][subnet.id] = subnet
    subnet._availability_zone = _local_zone_object(self.region_name, spec)  # pylint: disable=protected-access
    # A Local Zone never has a default subnet; EC2 gives new non-default subnets private addresses only.
    subnet.default_for_az = False
    subnet.map_public_ip_on_launch = False
    return subnet


def _local_zone_offerings(backend, location_type):
    offerings = []
    for spec in _local_zone_specs(backend.region_name):
        if not _is_opted_in(backend, spec):
            continue
        location = spec.zone_id if location_type == "availability-zone-id" else spec.name
        offerings += [{"InstanceType": instance_type, "LocationType": location_type, "Location": location} for instance_type in spec.instance_types]
    return offerings


def describe_instance_type_offerings(self, location_type=None, filters=None):
    """InstanceTypeOfferingBackend.describe_instance_type_offerings plus the opted-in Local Zones' offerings."""
    offerings = _ORIGINALS["InstanceTypeOfferingBackend.describe_instance_type_offerings"](self, location_type, filters)
    if location_type in ("availability-zone", "availability-zone-id"):
        offerings = list(offerings) + [offering for offering in _local_zone_offerings(self, location_type)
                                       if self.matches_filters(offering, filters or {}, location_type)]
    return offerings


def _launch_subnet_id(kwargs):
    return kwargs.get("subnet_id") or next((nic.get("SubnetId") for nic in kwargs.get("nics") or () if nic.get("SubnetId")), None)


def _launch_interface_subnet(backend, kwargs):
    """The subnet of an existing interface the instance is launched on (device index 0), else None."""
    for nic in kwargs.get("nics") or ():
        if nic.get("NetworkInterfaceId") and str(nic.get("DeviceIndex", "0")) == "0":
            return backend.get_network_interface(nic["NetworkInterfaceId"]).subnet
    return None


def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    """InstanceBackend.run_instances that refuses, like EC2, an instance type the Local Zone does not offer.

    An instance launched on an existing interface is placed, as on EC2, in the zone of the interface's subnet.
    """
    subnet_id = _launch_subnet_id(kwargs)
    interface_subnet = None if subnet_id else _launch_interface_subnet(self, kwargs)
    zone_name = (self.get_subnet(subnet_id).availability_zone if subnet_id
                 else interface_subnet.availability_zone if interface_subnet else kwargs.get("placement"))
    spec = local_zone_spec(self.region_name, zone_name)
    if spec is not None:
        if kwargs.get("instance_type") not in spec.instance_types:
            raise UnsupportedInstanceTypeError(kwargs.get("instance_type"), spec.name)
        if kwargs.get("placement") == spec.name and (subnet_id or interface_subnet):
            # moto checks Placement against the region's zones only; the subnet already places the instance.
            kwargs["placement"] = None
    reservation = _ORIGINALS["InstanceBackend.run_instances"](self, image_id, count, user_data, security_group_names, **kwargs)
    if interface_subnet is not None:
        # moto places an instance without a subnet, and its volumes, in the region's first zone.
        zone = self.get_zone_by_name(interface_subnet.availability_zone)
        for instance in reservation.instances:
            instance.placement.zone = zone.name
            for device in instance.block_device_mapping.values():
                self.get_volume(device.volume_id).zone = zone
    return reservation


def describe_availability_zones_action(self):
    """EC2 query action DescribeAvailabilityZones, with AllAvailabilityZones and the Local Zones."""
    self.error_on_dryrun()
    zones = _describe_zones(
        self.ec2_backend,
        self._filters_from_querystring(),  # pylint: disable=protected-access
        zone_names=self._get_param("ZoneNames", []),  # pylint: disable=protected-access
        zone_ids=self._get_param("ZoneIds", []),  # pylint: disable=protected-access
        all_availability_zones=self._get_bool_param("AllAvailabilityZones", False),  # pylint: disable=protected-access
    )
    return ActionResult({"AvailabilityZones": zones})


def modify_availability_zone_group_action(self):
    """EC2 query action ModifyAvailabilityZoneGroup."""
    self.error_on_dryrun()
    modify_availability_zone_group(self.ec2_backend, self._get_param("GroupName"), self._get_param("OptInStatus"))  # pylint: disable=protected-access
    return ActionResult({"Return": True})


# --------------------------------------------------------------------------- public AMI parameters

# Debian's AWS account, which publishes the official Debian AMIs and their SSM parameters.
DEBIAN_OWNER_ID = "136693071363"
DEBIAN_RELEASES = (("12", "bookworm", "20250610-2137"),)
DEBIAN_ARCHITECTURES = (("amd64", "x86_64"), ("arm64", "arm64"))
_DEBIAN_LOADED_ATTR = "fidelity_debian_parameters_loaded"


def debian_ami_id(region, release, architecture):
    """The (made-up, stable) AMI ID the layer gives a Debian release in a region."""
    digest = hashlib.sha256(f"debian-{release}-{architecture}-{region}".encode()).hexdigest()
    return "ami-0" + digest[:16]


def _debian_images(region):
    """(SSM parameter names, AMI ID, AMI name, EC2 architecture) of every seeded Debian image."""
    images = []
    for release, codename, build in DEBIAN_RELEASES:
        for architecture, ec2_architecture in DEBIAN_ARCHITECTURES:
            names = [f"/aws/service/debian/release/{release}/latest/{architecture}", f"/aws/service/debian/release/{codename}/latest/{architecture}"]
            images.append((names, debian_ami_id(region, release, architecture), f"debian-{release}-{architecture}-{build}", ec2_architecture))
    return images


def _load_debian_parameters(parameters):
    for names, ami_id, _name, _architecture in _debian_images(parameters.region_name):
        for name in names:
            defaultdict.__getitem__(parameters, name).append(Parameter(
                account_id=parameters.account_id, name=name, value=ami_id, parameter_type="String", description=None, allowed_pattern=None,
                keyid=None, last_modified_date=utcnow(), version=1, data_type="aws:ec2:image"))


def check_loading_status(self, key):
    """ParameterDict._check_loading_status that also loads Debian's public AMI parameters on first use."""
    _ORIGINALS["ParameterDict._check_loading_status"](self, key)
    if str(key or "").startswith("/aws/service/debian") and not getattr(self, _DEBIAN_LOADED_ATTR, False):
        setattr(self, _DEBIAN_LOADED_ATTR, True)
        _load_debian_parameters(self)


def load_amis(self):
    """AmiBackend._load_amis that also registers the Debian images the SSM parameters point to."""
    _ORIGINALS["AmiBackend._load_amis"](self)
    for _names, ami_id, name, architecture in _debian_images(self.region_name):
        self.amis[ami_id] = Ami(self, ami_id, name=name, description=f"Debian {name.split('-')[1]} ({architecture})", owner_id=DEBIAN_OWNER_ID,
                                public=True, virtualization_type="hvm", architecture=architecture, root_device_type="ebs",
                                root_device_name="/dev/xvda", hypervisor="xen", region_name=self.region_name)


def terminate_instance(self):
    """Instance.terminate that detaches, like EC2, the interfaces that are not deleted on termination."""
    kept = [nic for nic in self.nics.values() if not nic.delete_on_termination]
    state = _ORIGINALS["Instance.terminate"](self)
    for nic in kept:
        # Instance.detach_eni, except that the terminated instance keeps it in its list:
        # moto reads the instance's private address from its first interface.
        nic.instance = None
        nic.attachment_id = None
        nic.attach_time = None
        nic.status = "available"
        nic.device_index = None
    return state


# --------------------------------------------------------------------------- rules without ports


# The protocols whose rules have ports (ICMP's are type and code); EC2 ignores ports for any other.
_PROTOCOLS_WITH_PORTS = frozenset({"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58", "-1", "all"})


def _security_group_rule_init(self, ec2_backend, ip_protocol, group_id, from_port, to_port, *args, **kwargs):  # pylint: disable=too-many-arguments
    """SecurityGroupRule.__init__ that takes, like EC2, a rule for a protocol without ports (ESP: "50") and keeps no ports."""
    original = _ORIGINALS["SecurityGroupRule.__init__"]
    if ip_protocol is None or str(ip_protocol).lower() in _PROTOCOLS_WITH_PORTS:
        original(self, ec2_backend, ip_protocol, group_id, from_port, to_port, *args, **kwargs)
        return
    original(self, ec2_backend, "-1", group_id, None, None, *args, **kwargs)
    self.ip_protocol = str(ip_protocol)


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
        # Local Zones, their instance type offerings, and the public Debian AMI parameters.
        _patch(RegionsAndZonesBackend, "get_zone_by_name", get_zone_by_name)
        _patch(SubnetBackend, "create_subnet", create_subnet)
        _patch(InstanceTypeOfferingBackend, "describe_instance_type_offerings", describe_instance_type_offerings)
        _patch(InstanceBackend, "run_instances", run_instances)
        _patch(Instance, "terminate", terminate_instance)
        _patch(AvailabilityZonesAndRegions, "describe_availability_zones", describe_availability_zones_action)
        _patch(AvailabilityZonesAndRegions, "modify_availability_zone_group", modify_availability_zone_group_action)
        _patch(ParameterDict, "_check_loading_status", check_loading_status)
        _patch(AmiBackend, "_load_amis", load_amis)
        _patch(SecurityGroupRule, "__init__", _security_group_rule_init)
        # DescribeTags' resource type of an Elastic IP (moto's table is used by DescribeTags only).
        EC2_PREFIX_TO_RESOURCE["eipalloc"] = "elastic-ip"
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
# Where _fault_response leaves the EC2 Action it found, for FidelityApp to read after moto answered.
_ACTION_KEY = "fidelity.ec2_action"
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
    """MotoAPIBackend.reset (moto's POST /moto-api/reset) that also clears the fault rules and the Direct Connect state."""
    _ORIGINALS["MotoAPIBackend.reset"](self)
    clear_faults()
    dx_fidelity.reset()


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
    environ[_ACTION_KEY] = action
    rule = _FAULTS.take(action) if action else None
    if rule is None:
        return None
    if rule.delay_ms:
        time.sleep(rule.delay_ms / 1000.0)
    return _ec2_error_response(rule.code, rule.message, rule.status) if rule.code else None


# --------------------------------------------------------------------------- route-table change notification

MAX_VERSION_WAIT_SECONDS = 60.0
# EC2 Actions that never change anything: no need to look for a route change after them.
_READ_ONLY_ACTION = re.compile(r"^(Describe|Get|List)")


def _account_regions():
    # dict.values: only the regions already created, without making moto build the others.
    account = dict.get(ec2_backends, DEFAULT_ACCOUNT_ID)
    return list(dict.values(account)) if account is not None else []


def _route_fingerprint(route):
    target = getattr(route, "interface", None) or getattr(route, "gateway", None)
    target_id = getattr(target, "id", None) or getattr(route, "gateway_id", None)
    return (str(_route_destination(route)), str(target_id), getattr(route, "origin", ""), getattr(route, "state", ""))


def _route_tables_fingerprint():
    """Everything a router mirroring the route tables depends on, as a comparable value."""
    tables = []
    for backend in _account_regions():
        for route_table in list(backend.route_tables.values()):
            routes = sorted(_route_fingerprint(route) for route in _all_routes(route_table))
            associations = tuple(sorted(vars(route_table).get("_associations", {}).items()))
            tables.append((backend.region_name, route_table.id, route_table.main_association_id, associations, tuple(routes)))
    return tuple(sorted(tables))


class _RouteTableVersion:
    """A counter that grows when the route tables change, with waiting for the next change."""

    def __init__(self):
        self._condition = threading.Condition()
        self._version = 0
        self._fingerprint = None

    def refresh(self):
        """Compare the route tables with the last look; count a change.  Returns the version."""
        fingerprint = _route_tables_fingerprint()
        with self._condition:
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                self._version += 1
                self._condition.notify_all()
            return self._version

    def wait_newer(self, after, timeout):
        """The version once it is greater than ``after``, or the current one after ``timeout`` seconds."""
        self.refresh()
        with self._condition:
            self._condition.wait_for(lambda: self._version > after, timeout=timeout)
            return self._version


_ROUTE_TABLE_VERSION = _RouteTableVersion()


def route_tables_version():
    """The current route-table version (see the module docstring)."""
    return _ROUTE_TABLE_VERSION.refresh()


def wait_for_route_tables_version(after, timeout):
    """Block until the route-table version is greater than ``after`` or ``timeout`` seconds passed; return it."""
    return _ROUTE_TABLE_VERSION.wait_newer(after, min(max(timeout, 0.0), MAX_VERSION_WAIT_SECONDS))


def _may_change_route_tables(environ, action):
    if environ.get("PATH_INFO", "").startswith(("/moto-api", CONTROL_PREFIX)):
        return environ.get("REQUEST_METHOD") != "GET"
    return action is not None and not _READ_ONLY_ACTION.match(action)


def _route_tables_version_response(request):
    if request.method != "GET":
        return _error(405, "MethodNotAllowed", "use GET")
    try:
        after = int(request.args.get("after", "-1"))
        wait = float(request.args.get("wait", "0"))
    except ValueError:
        return _error(400, "InvalidParameterValue", '"after" must be an integer and "wait" a number of seconds')
    if wait < 0:
        return _error(400, "InvalidParameterValue", '"wait" must not be negative')
    return _json_response(200, {"version": wait_for_route_tables_version(after, wait)})


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
    if parts[0] == "directconnect":
        return dx_fidelity.control_response(request, parts[1:])
    if parts == ["faults"]:
        return _faults_response(request)
    if parts == ["route-tables", "version"]:
        return _route_tables_version_response(request)
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
        response = self._respond(environ, start_response)
        # moto has done its work by now: a waiting route-table watcher learns of a change at once.
        if _may_change_route_tables(environ, environ.get(_ACTION_KEY)):
            _ROUTE_TABLE_VERSION.refresh()
        return response

    def _respond(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return _control_response(Request(environ))(environ, start_response)
        direct_connect = dx_fidelity.api_response(environ)
        if direct_connect is not None:
            return direct_connect(environ, start_response)
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
