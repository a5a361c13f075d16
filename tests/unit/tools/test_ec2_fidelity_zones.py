# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local Zones, their opt-in and instance type offerings, and the public Debian
AMI parameters of the EC2 fidelity layer, tested through boto3 against the server.

Every assertion reads what the server answers, so each test fails on plain moto.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.aws import DUMMY_CREDENTIALS
from harness.aws import REGION
from harness.aws import ec2_client
from harness.aws import reset_server
from tools import ec2_fidelity

pytestmark = pytest.mark.moto

BOSTON = "us-east-1-bos-1a"
NEW_YORK = "us-east-1-nyc-1a"
LOCAL_ZONE_TYPES = ["c5.2xlarge", "g4dn.2xlarge", "r5.2xlarge", "t3.medium", "t3.xlarge"]
DEBIAN_12_AMD64 = "/aws/service/debian/release/12/latest/amd64"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def zones(ec2, **kwargs):
    return {zone["ZoneName"]: zone for zone in ec2.describe_availability_zones(**kwargs)["AvailabilityZones"]}


def error_code(call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def offered(ec2, zone, location_type="availability-zone"):
    offerings = ec2.describe_instance_type_offerings(LocationType=location_type, Filters=[{"Name": "location", "Values": [zone]}])
    return sorted(offering["InstanceType"] for offering in offerings["InstanceTypeOfferings"])


@pytest.fixture
def vpc_id(ec2):
    return ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def ssm_client(endpoint_url, region=REGION):
    return boto3.client("ssm", region_name=region, endpoint_url=endpoint_url, aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


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


# --------------------------------------------------------------------------- public AMI parameters


@pytest.mark.parametrize("region", [REGION, "eu-west-1"])
def test_debian_parameter_points_to_a_debian_image_of_the_region(ec2, ec2_endpoint, region):
    parameter = ssm_client(ec2_endpoint, region).get_parameter(Name=DEBIAN_12_AMD64)["Parameter"]
    assert parameter["Value"] == ec2_fidelity.debian_ami_id(region, "12", "amd64")
    assert parameter["DataType"] == "aws:ec2:image"
    image = ec2_client(ec2_endpoint, region=region).describe_images(ImageIds=[parameter["Value"]])["Images"][0]
    assert (image["OwnerId"], image["Architecture"], image["Name"].startswith("debian-12-amd64-")) == ("136693071363", "x86_64", True)


def test_debian_parameters_by_path_and_codename(ec2, ec2_endpoint):
    ssm = ssm_client(ec2_endpoint)
    names = sorted(item["Name"] for item in ssm.get_parameters_by_path(Path="/aws/service/debian/release/12/latest")["Parameters"])
    assert names == ["/aws/service/debian/release/12/latest/amd64", "/aws/service/debian/release/12/latest/arm64"]
    codename = ssm.get_parameter(Name="/aws/service/debian/release/bookworm/latest/arm64")["Parameter"]["Value"]
    assert codename == ec2_fidelity.debian_ami_id(REGION, "12", "arm64")
    assert ec2.describe_images(ImageIds=[codename])["Images"][0]["Architecture"] == "arm64"


def test_amazon_linux_parameter_comes_from_moto(ec2, ec2_endpoint):
    value = ssm_client(ec2_endpoint).get_parameter(Name=AL2023)["Parameter"]["Value"]
    assert ec2.describe_images(ImageIds=[value])["Images"][0]["Name"].startswith("al2023-ami-")


def test_local_zone_spec_lookup():
    assert ec2_fidelity.local_zone_spec(REGION, zone_name=BOSTON).group_name == "us-east-1-bos-1"
    assert ec2_fidelity.local_zone_spec(REGION, zone_id="use1-nyc1-az1").name == NEW_YORK
    assert ec2_fidelity.local_zone_spec("eu-west-1", zone_name=BOSTON) is None


def test_run_instances_on_an_existing_interface_is_placed_and_checked_in_its_local_zone(ec2, vpc_id):
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=BOSTON)["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
    image_id = ssm_client(ec2.meta.endpoint_url).get_parameter(Name=DEBIAN_12_AMD64)["Parameter"]["Value"]
    nic = [{"DeviceIndex": 0, "NetworkInterfaceId": eni["NetworkInterfaceId"]}]
    assert error_code(ec2.run_instances, ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t2.micro", NetworkInterfaces=nic)[0] == "Unsupported"
    instance = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.medium", NetworkInterfaces=nic)["Instances"][0]
    assert (instance["Placement"]["AvailabilityZone"], instance["PrivateIpAddress"]) == (BOSTON, eni["PrivateIpAddress"])
    assert {volume["AvailabilityZone"] for volume in ec2.describe_volumes()["Volumes"]} == {BOSTON}


def test_a_security_group_rule_for_esp_has_no_ports(ec2, vpc_id):
    group_id = ec2.create_security_group(GroupName="ipsec", Description="ipsec", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{"IpProtocol": "50", "IpRanges": [{"CidrIp": "192.0.32.10/32"}]}])
    rules = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    assert [(rule["IpProtocol"], rule.get("FromPort"), rule["IpRanges"]) for rule in rules] == [("50", None, [{"CidrIp": "192.0.32.10/32"}])]


def test_elastic_ip_tags_have_the_resource_type_elastic_ip(ec2):
    allocation_id = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "x"}]}])["AllocationId"]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [allocation_id]}, {"Name": "resource-type", "Values": ["elastic-ip"]}])["Tags"]
    assert [(tag["Key"], tag["ResourceType"]) for tag in tags] == [("Name", "elastic-ip")]


def test_terminating_an_instance_detaches_the_existing_interface_it_was_launched_on(ec2, vpc_id):
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    eni_id = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    instance_id = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.medium",
                                    NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni_id}])["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance_id])
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert (eni["Status"], "Attachment" in eni) == ("available", False)
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
