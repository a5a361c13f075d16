# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TerminateInstances and the interfaces it keeps (tools/endpoint/instance_termination.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.moto


def test_terminating_an_instance_detaches_the_existing_interface_it_was_launched_on(ec2, vpc_id):
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    eni_id = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    instance_id = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.medium",
                                    NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni_id}])["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance_id])
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert (eni["Status"], "Attachment" in eni) == ("available", False)
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
