# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reference world the endpoint's tests build on (harness/aws.py, ``lz_world``), and what moto already gets right in it."""

from __future__ import annotations

import pytest

from harness.aws import ONPREM_CIDRS
from tests.unit.tools.endpoint.ec2_calls import route_table

pytestmark = pytest.mark.moto


def test_world_has_the_reference_topology(ec2, lz_world):
    vpc = ec2.describe_vpcs(VpcIds=[lz_world.vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "198.18.0.0/16"
    assert vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == lz_world.vpc_ipv6_cidr
    subnets = {subnet["SubnetId"]: subnet for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [lz_world.vpc_id]}])["Subnets"]}
    assert subnets[lz_world.public_subnet_id]["CidrBlock"] == "198.18.1.0/24"
    assert subnets[lz_world.prod_subnet_id]["CidrBlock"] == "198.18.2.0/24"
    assert subnets[lz_world.probe_subnet_id]["CidrBlock"] == "198.18.3.0/24"
    assert {subnet["AvailabilityZone"] for subnet in subnets.values()} == {lz_world.availability_zone}
    for rtb_id, subnet_id in ((lz_world.prod_rtb_id, lz_world.prod_subnet_id), (lz_world.probe_rtb_id, lz_world.probe_subnet_id)):
        assert [assoc["SubnetId"] for assoc in route_table(ec2, rtb_id)["Associations"]] == [subnet_id]
    vgw = ec2.describe_vpn_gateways(VpnGatewayIds=[lz_world.vgw_id])["VpnGateways"][0]
    assert vgw["VpcAttachments"] == [{"VpcId": lz_world.vpc_id, "State": "attached"}]
    assert lz_world.learned() == list(ONPREM_CIDRS)


def test_world_vpn_appliance_eni_is_tagged_and_forwards(ec2, lz_world):
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[lz_world.vpn_eni_id])["NetworkInterfaces"][0]
    assert eni["SubnetId"] == lz_world.public_subnet_id
    assert eni["PrivateIpAddress"] == lz_world.vpn_eni_ip
    assert eni["SourceDestCheck"] is False
    assert {"Key": "localzones.failover/role", "Value": "vpn-appliance"} in eni["TagSet"]


def test_modify_source_dest_check_round_trips(ec2, lz_world):
    ec2.modify_network_interface_attribute(NetworkInterfaceId=lz_world.vpn_eni_id, SourceDestCheck={"Value": True})
    attribute = ec2.describe_network_interface_attribute(NetworkInterfaceId=lz_world.vpn_eni_id, Attribute="sourceDestCheck")
    assert attribute["SourceDestCheck"] == {"Value": True}
