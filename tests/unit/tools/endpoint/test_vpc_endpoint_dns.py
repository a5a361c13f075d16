# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An interface endpoint's DnsEntries (tools/endpoint/vpc_endpoint_dns.py)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.moto


def test_an_interface_endpoint_is_named_like_ec2s_regional_name_first_then_one_per_zone(ec2, vpc_id):
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for cidr, zone in (("10.0.3.0/24", "us-east-1b"), ("10.0.4.0/24", "us-east-1a"))]
    created = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.dynamodb", VpcEndpointType="Interface",
                                      SubnetIds=subnets)["VpcEndpoint"]
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])["VpcEndpoints"][0]
    names = [entry["DnsName"] for entry in described["DnsEntries"]]
    assert names == [entry["DnsName"] for entry in created["DnsEntries"]]
    regional = re.fullmatch(r"(%s-[a-z0-9]{8})\.dynamodb\.us-east-1\.vpce\.amazonaws\.com" % created["VpcEndpointId"], names[0])
    assert regional is not None, names[0]
    prefix = regional.group(1)
    assert names[1:] == ["%s-%s.dynamodb.us-east-1.vpce.amazonaws.com" % (prefix, zone) for zone in ("us-east-1a", "us-east-1b")]
    assert len({entry["HostedZoneId"] for entry in described["DnsEntries"]}) == 1


def test_a_gateway_endpoint_has_no_dns_entries(ec2, vpc_id):
    table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    created = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.dynamodb", VpcEndpointType="Gateway",
                                      RouteTableIds=[table_id])["VpcEndpoint"]
    assert created.get("DnsEntries", []) == []
