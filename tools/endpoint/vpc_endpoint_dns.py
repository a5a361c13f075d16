# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An interface endpoint's DnsEntries have EC2's shape: the regional name first, then one per zone.

EC2 names an interface endpoint ``vpce-<id>-<suffix>.<service>.<region>.vpce.amazonaws.com``
(regional) and ``vpce-<id>-<suffix>-<zone>.<service>.<region>.vpce.amazonaws.com``
(one per subnet's zone). moto gave one entry, ``vpce-<id>-<suffix>.com.amazonaws.<region>.<service>``,
which is no host name a client could be pointed at: the network role publishes the
DynamoDB endpoint's regional name as the monitors' URL.
"""

from __future__ import annotations

from moto.ec2.models.vpcs import VPCBackend
from moto.moto_api._internal import mock_random

from .patching import original
from .patching import patch

_VPCE_DOMAIN = "vpce.amazonaws.com"


def _random_suffix():
    """EC2's eight lower-case letters and digits after the endpoint ID."""
    return "".join(mock_random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _position in range(8))


def _hosted_zone_id():
    """A hosted zone ID of EC2's form (Z and upper-case letters and digits)."""
    return "Z" + "".join(mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _position in range(12))


def interface_endpoint_dns_entries(endpoint_id, service_name, region, zones):
    """The DnsEntries EC2 gives an interface endpoint of ``service_name`` (com.amazonaws.REGION.SERVICE) in ``zones``."""
    service = service_name.rsplit(".", 1)[-1]
    prefix = "%s-%s" % (endpoint_id, _random_suffix())
    hosted_zone_id = _hosted_zone_id()
    names = [prefix] + ["%s-%s" % (prefix, zone) for zone in zones]
    return [{"dns_name": "%s.%s.%s.%s" % (name, service, region, _VPCE_DOMAIN), "hosted_zone_id": hosted_zone_id} for name in names]


def create_vpc_endpoint(self, *args, **kwargs):
    """VPCBackend.create_vpc_endpoint whose interface endpoints get EC2's DnsEntries."""
    endpoint = original(VPCBackend, "create_vpc_endpoint")(self, *args, **kwargs)
    if (endpoint.vpc_endpoint_type or "").lower() == "interface":
        zones = sorted({self.get_subnet(subnet_id).availability_zone for subnet_id in endpoint.subnet_ids or []})
        endpoint.dns_entries = interface_endpoint_dns_entries(endpoint.id, endpoint.service_name, self.region_name, zones)
    return endpoint


def install():
    """Patch moto's VPCBackend (called once, by behaviours.install())."""
    patch(VPCBackend, "create_vpc_endpoint", create_vpc_endpoint)
