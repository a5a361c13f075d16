# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest fixtures for tests that call EC2: the local EC2 endpoint (tools/endpoint/, moto with the emulated behaviours).

Fixtures
--------
``ec2_endpoint`` (session)
    URL of a fidelity server on 127.0.0.1 (free port), started once.  For the
    session the environment carries dummy credentials and no profile, region or
    endpoint of the developer's own AWS configuration; it is restored at the end.
``ec2`` (function)
    Resets the server (moto's ``POST /moto-api/reset``) and returns a boto3 EC2
    client for ``us-east-1`` pointed at it.
``ec2_no_retries`` (function)
    Like ``ec2``, but the client sends every call exactly once (no botocore
    retries), so an injected fault (``put_fault``) surfaces as the server sent it.
``lz_world`` (function)
    The project's reference topology, built through the API; see ``LzWorld``.

The helpers (``reset_server``, ``ec2_client``, ``put_learned_prefixes``,
``get_learned_prefixes``, for API faults ``put_fault``, ``get_fault_stats``,
``delete_faults``, and for the request log ``get_request_log``,
``delete_request_log``) take the endpoint URL, so they work as well against a
fidelity server running as a separate process (the lab).  The reset also clears
fault rules and counters, so every test that uses ``ec2`` starts without them.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness.paths import COLLECTIONS_ROOT
from tools.endpoint.server import serve

REGION = "us-east-1"
LOCAL_ZONE = "us-east-1-bos-1a"
FALLBACK_ZONE = "us-east-1a"

VPC_CIDR = "198.18.0.0/16"
PUBLIC_SUBNET_CIDR = "198.18.1.0/24"
PROD_SUBNET_CIDR = "198.18.2.0/24"
PROBE_SUBNET_CIDR = "198.18.3.0/24"
VPN_ENI_IP = "198.18.1.10"
# Used only where moto cannot allocate an Amazon-provided block.
FALLBACK_VPC_IPV6_CIDR = "2001:db8:ff00::/56"
ONPREM_CIDRS = ("198.19.0.0/24", "2001:db8:100::/56")

OTHER_VPC_CIDR = "198.19.128.0/20"
OTHER_SUBNET_CIDR = "198.19.129.0/24"

VPN_APPLIANCE_TAG = {"Key": "localzones.failover/role", "Value": "vpn-appliance"}

# botocore's retries "max_attempts" counts the retries after the first attempt;
# "total_max_attempts" counts attempts, so 1 is what means "no retry".
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    # Point both files at nothing so a developer's profiles are never read.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Removed for the session: a region or endpoint from the developer's shell would
# silently send a client that forgot to pass one somewhere else.
CLEARED_VARIABLES = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
)


# --------------------------------------------------------------------------- helpers


def http_json(method, url, body=None):
    """Send a JSON request; return (status, decoded body) for success and error answers alike."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"null")


def reset_server(endpoint_url):
    """Drop every resource and all fidelity state (moto's own reset)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def ec2_client(endpoint_url, region=REGION, config=None):
    """A boto3 EC2 client for the fidelity server, with explicit dummy credentials and region.

    ``config`` is an optional ``botocore.config.Config`` (retry mode and attempts, timeouts).
    """
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def learned_prefixes_url(endpoint_url, vgw_id):
    """The control endpoint resource for a VGW's learned prefixes."""
    return f"{endpoint_url}/_fidelity/vgw/{vgw_id}/prefixes"


def put_learned_prefixes(endpoint_url, vgw_id, prefixes, region=REGION):
    """Replace the VGW's learned prefixes over HTTP; return the stored list."""
    status, body = http_json("PUT", learned_prefixes_url(endpoint_url, vgw_id), {"prefixes": list(prefixes), "region": region})
    assert status == 200, body
    return body["prefixes"]


def get_learned_prefixes(endpoint_url, vgw_id, region=REGION):
    """Read the VGW's learned prefixes over HTTP."""
    status, body = http_json("GET", f"{learned_prefixes_url(endpoint_url, vgw_id)}?region={region}")
    assert status == 200, body
    return body["prefixes"]


def faults_url(endpoint_url):
    """The control endpoint resource for API fault rules."""
    return f"{endpoint_url}/_fidelity/faults"


def put_fault(endpoint_url, action, code=None, **options):
    """Append a fault rule over HTTP; return the stored rule.

    ``options`` are the other fields of the control API: ``status``, ``count``
    (default 1, -1 = until cleared), ``delay_ms``, ``message``, ``access_key_id``
    (one caller only), ``service`` (default ``ec2``; ``dynamodb``, ``*``).  ``code=None``
    with a ``delay_ms`` makes the matching requests slow instead of failing.
    """
    status, body = http_json("PUT", faults_url(endpoint_url), {"action": action, "code": code, **options})
    assert status == 200, body
    return body["rule"]


def get_request_log(endpoint_url, since=None):
    """The endpoint's request log: ``{"requests": [...], "dropped", "capacity"}`` (``since``: requests that ended at or after it)."""
    query = "" if since is None else "?since=%r" % float(since)
    status, body = http_json("GET", f"{endpoint_url}/_fidelity/requests{query}")
    assert status == 200, body
    return body


def delete_request_log(endpoint_url):
    """Empty the endpoint's request log; return the (empty) log."""
    status, body = http_json("DELETE", f"{endpoint_url}/_fidelity/requests")
    assert status == 200, body
    return body


def get_fault_stats(endpoint_url):
    """Active fault rules and per-Action counters: ``{"rules", "requests", "faults", "delayed"}``."""
    status, body = http_json("GET", faults_url(endpoint_url))
    assert status == 200, body
    return body


def delete_faults(endpoint_url):
    """Drop every fault rule and zero the counters; return the (empty) stats."""
    status, body = http_json("DELETE", faults_url(endpoint_url))
    assert status == 200, body
    return body


# --------------------------------------------------------------------------- world


@dataclass
class FailoverNetwork:  # pylint: disable=too-many-instance-attributes
    """What every test network of a failover has: a VPC with a public subnet and two private ones
    (production, probe) with their route tables, a VGW, the appliance's interface, and another VPC."""

    vpc_id: str
    public_subnet_id: str
    prod_subnet_id: str
    probe_subnet_id: str
    prod_rtb_id: str
    probe_rtb_id: str
    vgw_id: str
    vpn_eni_id: str
    other_vpc_id: str
    other_rtb_id: str


@dataclass
class LzWorld(FailoverNetwork):  # pylint: disable=too-many-instance-attributes
    """IDs of the reference topology; ``set_learned`` plays the DX BGP session."""

    endpoint_url: str
    region: str
    availability_zone: str
    in_local_zone: bool
    vpc_cidr: str
    vpc_ipv6_cidr: str
    vpn_eni_ip: str
    onprem_cidrs: tuple
    other_subnet_id: str
    other_eni_id: str

    @property
    def route_table_ids(self):
        """Both private route tables (production and probe)."""
        return [self.prod_rtb_id, self.probe_rtb_id]

    def set_learned(self, prefixes):
        """Replace what the VGW learned over DX ([] = BGP session down); return the stored list."""
        return put_learned_prefixes(self.endpoint_url, self.vgw_id, prefixes, self.region)

    def learned(self):
        """What the VGW currently has learned."""
        return get_learned_prefixes(self.endpoint_url, self.vgw_id, self.region)


def name_tags(resource_type, name, *extra_tags):
    """``TagSpecifications`` of one new resource: its Name tag, then ``extra_tags``."""
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}, *extra_tags]}]


def _create_vpc_with_ipv6(ec2, cidr, name):
    vpc = ec2.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=True, TagSpecifications=name_tags("vpc", name))["Vpc"]
    associations = vpc.get("Ipv6CidrBlockAssociationSet") or []
    if associations:
        return vpc["VpcId"], associations[0]["Ipv6CidrBlock"]
    ec2.associate_vpc_cidr_block(VpcId=vpc["VpcId"], Ipv6CidrBlock=FALLBACK_VPC_IPV6_CIDR)
    return vpc["VpcId"], FALLBACK_VPC_IPV6_CIDR


def _create_subnet(ec2, vpc_id, cidr, zone, name):
    return ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=name_tags("subnet", name))["Subnet"]["SubnetId"]


def _create_first_subnet(ec2, vpc_id, cidr, name):
    """Create the subnet in the Local Zone if the server knows it, else in the parent region; return (subnet, zone)."""
    try:
        return _create_subnet(ec2, vpc_id, cidr, LOCAL_ZONE, name), LOCAL_ZONE
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidParameterValue":
            raise
    return _create_subnet(ec2, vpc_id, cidr, FALLBACK_ZONE, name), FALLBACK_ZONE


def create_route_table(ec2, vpc_id, subnet_id, name):
    """A named route table associated with ``subnet_id``; returns its ID."""
    rtb_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=name_tags("route-table", name))["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rtb_id, SubnetId=subnet_id)
    return rtb_id


def _create_vpn_appliance_eni(ec2, subnet_id, private_ip=None):
    kwargs = {"PrivateIpAddress": private_ip} if private_ip else {}
    eni = ec2.create_network_interface(
        SubnetId=subnet_id,
        Description="VPN appliance",
        TagSpecifications=name_tags("network-interface", "vpn-appliance", VPN_APPLIANCE_TAG),
        **kwargs,
    )["NetworkInterface"]
    # A router forwards traffic that is not addressed to itself.
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni["NetworkInterfaceId"], SourceDestCheck={"Value": False})
    return eni["NetworkInterfaceId"]


def build_lz_world(ec2, endpoint_url, region=REGION):
    """Build the reference topology through the EC2 API and return its IDs."""
    vpc_id, vpc_ipv6_cidr = _create_vpc_with_ipv6(ec2, VPC_CIDR, "lz-vpc")
    public_subnet_id, zone = _create_first_subnet(ec2, vpc_id, PUBLIC_SUBNET_CIDR, "publicsubnet1")
    prod_subnet_id = _create_subnet(ec2, vpc_id, PROD_SUBNET_CIDR, zone, "privatesubnet1")
    probe_subnet_id = _create_subnet(ec2, vpc_id, PROBE_SUBNET_CIDR, zone, "privatesubnet2")
    prod_rtb_id = create_route_table(ec2, vpc_id, prod_subnet_id, "prod_rtb")
    probe_rtb_id = create_route_table(ec2, vpc_id, probe_subnet_id, "probe_rtb")

    vgw_id = ec2.create_vpn_gateway(Type="ipsec.1", AmazonSideAsn=64512, TagSpecifications=name_tags("vpn-gateway", "lz-vgw"))["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=vgw_id)
    for rtb_id in (prod_rtb_id, probe_rtb_id):
        ec2.enable_vgw_route_propagation(RouteTableId=rtb_id, GatewayId=vgw_id)
    put_learned_prefixes(endpoint_url, vgw_id, ONPREM_CIDRS, region)

    vpn_eni_id = _create_vpn_appliance_eni(ec2, public_subnet_id, VPN_ENI_IP)

    other_vpc_id = ec2.create_vpc(CidrBlock=OTHER_VPC_CIDR, TagSpecifications=name_tags("vpc", "other-vpc"))["Vpc"]["VpcId"]
    other_subnet_id = _create_subnet(ec2, other_vpc_id, OTHER_SUBNET_CIDR, FALLBACK_ZONE, "other-subnet")
    other_rtb_id = create_route_table(ec2, other_vpc_id, other_subnet_id, "other_rtb")
    other_eni_id = _create_vpn_appliance_eni(ec2, other_subnet_id)

    return LzWorld(
        endpoint_url=endpoint_url,
        region=region,
        availability_zone=zone,
        in_local_zone=zone == LOCAL_ZONE,
        vpc_id=vpc_id,
        vpc_cidr=VPC_CIDR,
        vpc_ipv6_cidr=vpc_ipv6_cidr,
        public_subnet_id=public_subnet_id,
        prod_subnet_id=prod_subnet_id,
        probe_subnet_id=probe_subnet_id,
        prod_rtb_id=prod_rtb_id,
        probe_rtb_id=probe_rtb_id,
        vgw_id=vgw_id,
        vpn_eni_id=vpn_eni_id,
        vpn_eni_ip=VPN_ENI_IP,
        onprem_cidrs=ONPREM_CIDRS,
        other_vpc_id=other_vpc_id,
        other_subnet_id=other_subnet_id,
        other_rtb_id=other_rtb_id,
        other_eni_id=other_eni_id,
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def ec2_endpoint():
    """URL of a fidelity server for the whole session, with dummy credentials in the environment."""
    environment = pytest.MonkeyPatch()
    for name, value in DUMMY_CREDENTIALS.items():
        environment.setenv(name, value)
    for name in CLEARED_VARIABLES:
        environment.delenv(name, raising=False)
    server = serve("127.0.0.1", 0)
    try:
        yield server.url
    finally:
        server.stop()
        environment.undo()


@pytest.fixture
def ec2(ec2_endpoint):  # pylint: disable=redefined-outer-name
    """A boto3 EC2 client for us-east-1 on a freshly reset fidelity server."""
    reset_server(ec2_endpoint)
    return ec2_client(ec2_endpoint)


@pytest.fixture
def ec2_no_retries(ec2, ec2_endpoint):  # pylint: disable=redefined-outer-name,unused-argument
    """A boto3 EC2 client without retries, on a freshly reset fidelity server (through ``ec2``)."""
    return ec2_client(ec2_endpoint, config=NO_RETRIES)


@pytest.fixture
def lz_world(ec2, ec2_endpoint):  # pylint: disable=redefined-outer-name
    """The reference Local Zone topology (see LzWorld), built on a freshly reset server."""
    return build_lz_world(ec2, ec2_endpoint)


def ansible_json_environment(**overrides):
    """Environment of an ``ansible``/``ansible-playbook`` run of this checkout's modules on localhost, with JSON output.

    Dummy credentials for the fidelity server unless ``overrides`` replaces them (Ansible
    masks every returned value equal to the secret key, so a test whose results may
    contain the word "testing" passes other dummy keys).
    """
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    env.update(overrides)
    return env
