# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the vpn_appliance role must have built, read back from the EC2 API.

Shared by the tests of the appliance's own settings and the one full lifecycle of the
AWS inventory's path (network, appliance, utility instance) in test_aws_roles.py.
"""

from __future__ import annotations

from harness.provision import MANAGED_BY
from harness.provision import NAME
from harness.provision import ROLE_TAG
from harness.provision import tags_of

CUSTOMER_GATEWAY = "192.0.32.10"  # a public unicast address, as a user's


def only(items):
    assert len(items) == 1, items
    return items[0]


def live_instances(ec2):
    return [instance for reservation in ec2.describe_instances()["Reservations"] for instance in reservation["Instances"]
            if instance["State"]["Name"] not in ("shutting-down", "terminated")]


def appliance_of(ec2):
    return only([instance for instance in live_instances(ec2) if tags_of(instance).get(ROLE_TAG) == "vpn-appliance"])


def ingress_of(ec2, group_id):
    group = only(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"])
    return sorted((rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"),
                   tuple(item["CidrIp"] for item in rule["IpRanges"]), bool(rule["Ipv6Ranges"] or rule["UserIdGroupPairs"] or rule["PrefixListIds"]))
                  for rule in group["IpPermissions"])


def assert_appliance(ec2, eni_id, customer_gateway, run):
    """The appliance as the issue asks for it, on ``eni_id``, as ``run`` (provision.yml) reported it."""
    appliance = appliance_of(ec2)
    eni = only(ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"])
    # On the interface, as its primary one: its private address is the interface's.
    assert eni["Attachment"]["InstanceId"] == appliance["InstanceId"]
    assert eni["Attachment"]["DeviceIndex"] == 0
    assert appliance["PrivateIpAddress"] == eni["PrivateIpAddress"]
    assert [nic["NetworkInterfaceId"] for nic in appliance["NetworkInterfaces"]] == [eni_id]
    assert eni["SourceDestCheck"] is False
    # Debian 12, the type checked against the Local Zone, IMDSv2 only.
    assert ec2.describe_images(ImageIds=[appliance["ImageId"]])["Images"][0]["Name"].startswith("debian-12-amd64-")
    assert (appliance["InstanceType"], appliance["Placement"]["AvailabilityZone"]) == ("t3.medium", "us-east-1-bos-1a")
    assert appliance["MetadataOptions"]["HttpTokens"] == "required"
    assert appliance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    # The Elastic IP on the interface.
    address = only(ec2.describe_addresses(Filters=[{"Name": f"tag:{MANAGED_BY}", "Values": [NAME]}])["Addresses"])
    assert (address["NetworkInterfaceId"], address["Domain"]) == (eni_id, "vpc")
    # The security group: only IKE, NAT-T and ESP from the customer gateway's /32, on the interface.
    group = only([group for group in eni["Groups"] if group["GroupName"] == f"{NAME}-vpn-appliance-ipsec"])
    assert ingress_of(ec2, group["GroupId"]) == sorted([
        ("udp", 500, 500, (f"{customer_gateway}/32",), False),
        ("udp", 4500, 4500, (f"{customer_gateway}/32",), False),
        ("50", None, None, (f"{customer_gateway}/32",), False),
    ])
    # Tagged as the failover's own, with a Name.
    sg = only(ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"])
    for resource in (appliance, address, sg):
        assert {key: tags_of(resource).get(key) for key in (MANAGED_BY, ROLE_TAG)} == {MANAGED_BY: NAME, ROLE_TAG: "vpn-appliance"}
        assert tags_of(resource)["Name"] == f"{NAME}-vpn-appliance"
    outputs = run.result("Publish the appliance's interface")["ansible_facts"]["vpn_appliance_outputs"]
    assert {key: outputs[key] for key in ("eni_id", "instance_id", "public_ip", "security_group_id", "private_ip")} == {
        "eni_id": eni_id, "instance_id": appliance["InstanceId"], "public_ip": address["PublicIp"],
        "security_group_id": group["GroupId"], "private_ip": eni["PrivateIpAddress"]}
    return appliance, address, group["GroupId"]
