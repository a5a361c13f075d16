# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local Zones (tools/endpoint/zones.py): listed, opted in to, and usable for subnets and instances.

Every assertion reads what the server answers, so each test fails on plain moto wherever moto and EC2 differ.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from harness.aws import REGION
from harness.aws import ec2_client
from harness.aws import reset_server
from tests.unit.tools.endpoint.ec2_calls import AL2023
from tests.unit.tools.endpoint.ec2_calls import DEBIAN_12_AMD64
from tests.unit.tools.endpoint.ec2_calls import ssm_client
from tools.endpoint import zones as local_zones

pytestmark = pytest.mark.moto

BOSTON = "us-east-1-bos-1a"
NEW_YORK = "us-east-1-nyc-1a"
LOCAL_ZONE_TYPES = ["c5.2xlarge", "g4dn.2xlarge", "r5.2xlarge", "t3.medium", "t3.xlarge"]


def zones(ec2, **kwargs):
    return {zone["ZoneName"]: zone for zone in ec2.describe_availability_zones(**kwargs)["AvailabilityZones"]}


def error_code(call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def offered(ec2, zone, location_type="availability-zone"):
    offerings = ec2.describe_instance_type_offerings(LocationType=location_type, Filters=[{"Name": "location", "Values": [zone]}])
    return sorted(offering["InstanceType"] for offering in offerings["InstanceTypeOfferings"])


# --------------------------------------------------------------------------- DescribeAvailabilityZones


def test_opted_in_local_zone_is_listed_with_its_group_and_parent(ec2):
    listed = zones(ec2)
    assert NEW_YORK not in listed
    boston = listed[BOSTON]
    assert {key: boston[key] for key in ("ZoneId", "ZoneType", "GroupName", "NetworkBorderGroup", "OptInStatus", "ParentZoneName", "RegionName", "State")} == {
        "ZoneId": "use1-bos1-az1", "ZoneType": "local-zone", "GroupName": "us-east-1-bos-1", "NetworkBorderGroup": "us-east-1-bos-1",
        "OptInStatus": "opted-in", "ParentZoneName": "us-east-1a", "RegionName": REGION, "State": "available",
    }
    assert boston["ParentZoneId"] == listed["us-east-1a"]["ZoneId"]


def test_availability_zones_need_no_opt_in_and_belong_to_the_region_group(ec2):
    zone = zones(ec2)["us-east-1a"]
    described = (zone["ZoneType"], zone["OptInStatus"], zone["GroupName"], zone["NetworkBorderGroup"])
    assert described == ("availability-zone", "opt-in-not-required", REGION, REGION)
    assert "ParentZoneName" not in zone


def test_all_availability_zones_adds_the_zones_not_opted_in(ec2):
    local = zones(ec2, AllAvailabilityZones=True, Filters=[{"Name": "zone-type", "Values": ["local-zone"]}])
    assert {name: zone["OptInStatus"] for name, zone in local.items()} == {BOSTON: "opted-in", NEW_YORK: "not-opted-in"}
    assert local[NEW_YORK]["GroupName"] == "us-east-1-nyc-1"


@pytest.mark.parametrize("name, value, expected", [
    ("opt-in-status", "not-opted-in", [NEW_YORK]),
    ("group-name", "us-east-1-bos-1", [BOSTON]),
    ("parent-zone-name", "us-east-1f", [NEW_YORK]),
    ("zone-id", "use1-bos1-az1", [BOSTON]),
    ("network-border-group", "us-east-1-nyc-1", [NEW_YORK]),
])
def test_zone_filters(ec2, name, value, expected):
    assert sorted(zones(ec2, AllAvailabilityZones=True, Filters=[{"Name": name, "Values": [value]}])) == expected


def test_zone_names_select_and_an_unknown_filter_is_refused(ec2):
    assert list(zones(ec2, ZoneNames=[BOSTON])) == [BOSTON]
    assert list(zones(ec2, ZoneNames=[NEW_YORK])) == []
    assert error_code(ec2.describe_availability_zones, Filters=[{"Name": "colour", "Values": ["blue"]}])[0] == "InvalidParameterValue"


# --------------------------------------------------------------------------- ModifyAvailabilityZoneGroup


def test_opt_in_lists_the_zone_and_reset_forgets_it(ec2, ec2_endpoint):
    assert ec2.modify_availability_zone_group(GroupName="us-east-1-nyc-1", OptInStatus="opted-in")["Return"] is True
    assert zones(ec2)[NEW_YORK]["OptInStatus"] == "opted-in"
    reset_server(ec2_endpoint)
    assert NEW_YORK not in zones(ec2)


def test_opt_in_of_an_unknown_group_or_status_is_refused(ec2):
    assert error_code(ec2.modify_availability_zone_group, GroupName="us-east-1-xyz-1", OptInStatus="opted-in")[0] == "InvalidParameterValue"
    assert error_code(ec2.modify_availability_zone_group, GroupName="us-east-1-nyc-1", OptInStatus="maybe")[0] == "InvalidParameterValue"


def test_opt_out_hides_the_zone_and_other_regions_have_none(ec2, ec2_endpoint):
    ec2.modify_availability_zone_group(GroupName="us-east-1-bos-1", OptInStatus="not-opted-in")
    assert BOSTON not in zones(ec2)
    assert not [zone for zone in zones(ec2_client(ec2_endpoint, region="us-west-2")).values() if zone["ZoneType"] == "local-zone"]


# --------------------------------------------------------------------------- subnets and instances


def test_subnet_in_an_opted_in_local_zone(ec2, vpc_id):
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=BOSTON)["Subnet"]
    described = (subnet["AvailabilityZone"], subnet["AvailabilityZoneId"], subnet["DefaultForAz"], subnet["MapPublicIpOnLaunch"])
    assert described == (BOSTON, "use1-bos1-az1", False, False)
    by_zone = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": [BOSTON]}])["Subnets"]
    assert [item["SubnetId"] for item in by_zone] == [subnet["SubnetId"]]
    by_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.2.0/24", AvailabilityZoneId="use1-bos1-az1")["Subnet"]
    assert by_id["AvailabilityZone"] == BOSTON
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    assert [item["SubnetId"] for item in ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": [BOSTON]}])["Subnets"]] == [by_id["SubnetId"]]


def test_subnet_in_a_local_zone_not_opted_in_is_refused_until_opt_in(ec2, vpc_id):
    code, message = error_code(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=NEW_YORK)
    assert code == "InvalidParameterValue"
    assert NEW_YORK in message and BOSTON in message.split("following availability zones:")[1]
    ec2.modify_availability_zone_group(GroupName="us-east-1-nyc-1", OptInStatus="opted-in")
    assert ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=NEW_YORK)["Subnet"]["AvailabilityZone"] == NEW_YORK


def test_default_vpc_has_no_local_zone_subnet(ec2):
    assert not ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": [BOSTON]}])["Subnets"]


def test_local_zone_offers_a_small_set_of_instance_types(ec2):
    assert offered(ec2, BOSTON) == LOCAL_ZONE_TYPES
    assert offered(ec2, "use1-bos1-az1", "availability-zone-id") == LOCAL_ZONE_TYPES
    assert offered(ec2, NEW_YORK) == []
    assert "t2.micro" in offered(ec2, "us-east-1a")
    only_t3 = ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[
        {"Name": "location", "Values": [BOSTON]}, {"Name": "instance-type", "Values": ["t3.medium", "t2.micro"]}])["InstanceTypeOfferings"]
    assert only_t3 == [{"InstanceType": "t3.medium", "LocationType": "availability-zone", "Location": BOSTON}]


def test_run_instances_in_a_local_zone_refuses_a_type_it_does_not_offer(ec2, vpc_id):
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=BOSTON)["Subnet"]["SubnetId"]
    image_id = ssm_client(ec2.meta.endpoint_url).get_parameter(Name=AL2023)["Parameter"]["Value"]
    code, message = error_code(ec2.run_instances, ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t2.micro", SubnetId=subnet_id)
    assert code == "Unsupported"
    assert "(t2.micro)" in message and BOSTON in message
    nic = [{"DeviceIndex": 0, "SubnetId": subnet_id}]
    assert error_code(ec2.run_instances, ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="m5.large", NetworkInterfaces=nic)[0] == "Unsupported"
    assert not ec2.describe_instances()["Reservations"]

    instance = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.medium", SubnetId=subnet_id,
                                 Placement={"AvailabilityZone": BOSTON})["Instances"][0]
    assert (instance["Placement"]["AvailabilityZone"], instance["SubnetId"]) == (BOSTON, subnet_id)
    volume_zones = {volume["AvailabilityZone"] for volume in ec2.describe_volumes()["Volumes"]}
    assert volume_zones == {BOSTON}


def test_run_instances_outside_local_zones_is_unchanged(ec2, vpc_id):
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t2.micro", SubnetId=subnet_id)["Instances"][0]
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1a"


def test_local_zone_spec_lookup():
    assert local_zones.local_zone_spec(REGION, zone_name=BOSTON).group_name == "us-east-1-bos-1"
    assert local_zones.local_zone_spec(REGION, zone_id="use1-nyc1-az1").name == NEW_YORK
    assert local_zones.local_zone_spec("eu-west-1", zone_name=BOSTON) is None


def test_run_instances_on_an_existing_interface_is_placed_and_checked_in_its_local_zone(ec2, vpc_id):
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=BOSTON)["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
    image_id = ssm_client(ec2.meta.endpoint_url).get_parameter(Name=DEBIAN_12_AMD64)["Parameter"]["Value"]
    nic = [{"DeviceIndex": 0, "NetworkInterfaceId": eni["NetworkInterfaceId"]}]
    assert error_code(ec2.run_instances, ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t2.micro", NetworkInterfaces=nic)[0] == "Unsupported"
    instance = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.medium", NetworkInterfaces=nic)["Instances"][0]
    assert (instance["Placement"]["AvailabilityZone"], instance["PrivateIpAddress"]) == (BOSTON, eni["PrivateIpAddress"])
    assert {volume["AvailabilityZone"] for volume in ec2.describe_volumes()["Volumes"]} == {BOSTON}
