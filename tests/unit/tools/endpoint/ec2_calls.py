# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EC2 calls and route table reads shared by the endpoint's tests (through boto3, against the running server)."""

from __future__ import annotations

from collections import namedtuple

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.aws import DUMMY_CREDENTIALS
from harness.aws import REGION

ONPREM_V4 = "198.19.0.0/24"
ONPREM_V6 = "2001:db8:100::/56"
STATIC = "CreateRoute"
PROPAGATED = "EnableVgwRoutePropagation"
DEBIAN_12_AMD64 = "/aws/service/debian/release/12/latest/amd64"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def route_table(ec2, rtb_id):
    return ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]


def destination_of(route):
    return route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")


def routes_to(ec2, rtb_id, destination):
    return [route for route in route_table(ec2, rtb_id)["Routes"] if destination_of(route) == destination]


def origins_to(ec2, rtb_id, destination):
    return sorted(route["Origin"] for route in routes_to(ec2, rtb_id, destination))


def propagated_destinations(ec2, rtb_id):
    return sorted(destination_of(route) for route in route_table(ec2, rtb_id)["Routes"] if route["Origin"] == PROPAGATED)


ApiError = namedtuple("ApiError", "code status message")


def api_error(call, **kwargs):
    """Call the API expecting an error; return what the server answered."""
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    response = excinfo.value.response
    return ApiError(response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"])


def destination_kwargs(destination):
    key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
    return {key: destination}


def route_via_eni(ec2, rtb_id, destination, eni_id):
    ec2.create_route(RouteTableId=rtb_id, NetworkInterfaceId=eni_id, **destination_kwargs(destination))


def second_appliance_eni(ec2, world):
    return ec2.create_network_interface(SubnetId=world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]


def static_route(ec2, rtb_id, destination):
    (route,) = [route for route in routes_to(ec2, rtb_id, destination) if route["Origin"] == STATIC]
    return route


def rtb_ids_matching(ec2, *filters):
    return sorted(table["RouteTableId"] for table in ec2.describe_route_tables(Filters=list(filters))["RouteTables"])


def ssm_client(endpoint_url, region=REGION):
    return boto3.client("ssm", region_name=region, endpoint_url=endpoint_url, aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
