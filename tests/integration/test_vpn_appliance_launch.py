# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VPN appliance instance (vpn_appliance_launch) through playbooks/provision.yml
and playbooks/teardown.yml, against the EC2 fidelity endpoint, each test on a
freshly reset account."""

from __future__ import annotations

import json
import os
import tempfile

import pytest
import yaml

from harness.aws import reset_server
from harness.provision import ROLE_TAG
from harness.provision import build_existing_environment
from harness.provision import clients
from harness.provision import managed_by
from harness.provision import network_variables
from harness.provision import run_playbook
from harness.provision import snapshot
from harness.vpn_appliance import CUSTOMER_GATEWAY
from harness.vpn_appliance import appliance_of
from harness.vpn_appliance import assert_appliance
from harness.vpn_appliance import live_instances

pytestmark = pytest.mark.moto

LAB_CUSTOMER_GATEWAY = "198.19.251.2"  # the lab's, in the RFC 2544 benchmark space
LAUNCH = {"vpn_appliance_launch": True, "lz_failover_customer_gateway_address": CUSTOMER_GATEWAY}


@pytest.fixture
def endpoint(ec2_endpoint):
    """The fidelity endpoint, reset: every test starts from an empty account."""
    reset_server(ec2_endpoint)
    return ec2_endpoint


def add_foreign_resources(endpoint, world):
    """Someone else's: an instance on its own interface in the same subnet, an untagged Elastic IP, a security group."""
    ec2, _iam, _sns = clients(endpoint)
    group_id = ec2.create_security_group(GroupName="someone-elses", Description="not ours", VpcId=world.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 500, "ToPort": 500, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    eni_id = ec2.create_network_interface(SubnetId=world.public_subnet_id, Groups=[group_id])["NetworkInterface"]["NetworkInterfaceId"]
    image_id = ec2.describe_images(Owners=["136693071363"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image_id, InstanceType="t3.medium", MinCount=1, MaxCount=1,
                      NetworkInterfaces=[{"NetworkInterfaceId": eni_id, "DeviceIndex": 0}])
    ec2.allocate_address(Domain="vpc")
    return eni_id


# --------------------------------------------------------------------------- converge, again, teardown


def test_appliance_on_the_users_interface_converges_then_changes_nothing_then_teardown_removes_only_ours(endpoint):
    world = build_existing_environment(endpoint)
    add_foreign_resources(endpoint, world)
    ec2, _iam, _sns = clients(endpoint)
    groups_before = sorted(group["GroupId"] for group in ec2.describe_network_interfaces(
        NetworkInterfaceIds=[world.vpn_eni_id])["NetworkInterfaces"][0]["Groups"])
    before = snapshot(endpoint)

    with tempfile.TemporaryDirectory() as directory:
        vars_file = os.path.join(directory, "ids.yml")
        variables = world.variables(endpoint, lz_failover_provision_vars_file=vars_file, **LAUNCH)
        first = run_playbook("provision.yml", variables)
        assert first.returncode == 0, first.failure
        appliance, _address, group_id = assert_appliance(ec2, world.vpn_eni_id, CUSTOMER_GATEWAY, first)
        with open(vars_file, encoding="utf-8") as handle:
            written = yaml.safe_load(handle)
        assert (written["lz_failover_vpn_eni_id"], written["lz_failover_vpn_instance_id"]) == (world.vpn_eni_id, appliance["InstanceId"])

    # The user's interface keeps its groups; the appliance's joins them.
    groups = sorted(group["GroupId"] for group in ec2.describe_network_interfaces(NetworkInterfaceIds=[world.vpn_eni_id])["NetworkInterfaces"][0]["Groups"])
    assert groups == sorted(groups_before + [group_id])

    second = run_playbook("provision.yml", world.variables(endpoint, **LAUNCH))
    assert second.returncode == 0, second.failure
    assert second.changed_tasks == []
    assert second.stats["changed"] == 0
    assert appliance_of(ec2)["InstanceId"] == appliance["InstanceId"]

    removed = run_playbook("teardown.yml", world.variables(endpoint))
    assert removed.returncode == 0, removed.failure
    names = [name.split(" : ")[-1] for name, _result in removed.tasks]
    assert names.index("Terminate the utility instance and the VPN appliance") < names.index("Release the Elastic IPs (after their instance is gone)")
    assert names.index("Release the Elastic IPs (after their instance is gone)") < names.index("Delete the security groups")
    after = snapshot(endpoint)
    assert managed_by(after) == {}
    # The foreign instance on its interface, the untagged address and the foreign group stay; the
    # user's interface is back as it was (its tag mark from vpn_appliance stays, as before).
    assert {kind: entries for kind, entries in after.items() if kind != "network_interfaces"} == {
        kind: entries for kind, entries in before.items() if kind != "network_interfaces"}
    interfaces = {identifier: (tags, attributes) for identifier, tags, attributes in after["network_interfaces"]}
    assert set(interfaces) == {identifier for identifier, _tags, _attributes in before["network_interfaces"]}
    assert json.loads(interfaces[world.vpn_eni_id][0]) == {"Name": "vpn-appliance", ROLE_TAG: "vpn-appliance"}
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[world.vpn_eni_id])["NetworkInterfaces"][0]
    assert sorted(group["GroupId"] for group in eni["Groups"]) == groups_before
    assert "Attachment" not in eni or eni["Attachment"].get("Status") in (None, "detached")
    assert len(ec2.describe_addresses()["Addresses"]) == 1
    assert len(live_instances(ec2)) == 1


# --------------------------------------------------------------------------- check mode


def test_check_mode_plans_the_appliance_and_changes_nothing(endpoint):
    world = build_existing_environment(endpoint)
    before = snapshot(endpoint)
    checked = run_playbook("provision.yml", world.variables(endpoint, **LAUNCH), "--check")
    assert checked.returncode == 0, checked.failure
    assert checked.changed("Create the appliance's security group (IKE, NAT-T and ESP from the customer gateway only)")
    assert checked.changed("Associate an Elastic IP with the interface")
    assert snapshot(endpoint) == before


def test_check_mode_says_what_it_skips_before_the_interface_exists(endpoint):
    world = build_existing_environment(endpoint)
    before = snapshot(endpoint)
    variables = world.variables(endpoint, lz_failover_vpn_eni_id=None, lz_failover_public_subnet_id=world.public_subnet_id, **LAUNCH)
    checked = run_playbook("provision.yml", variables, "--check")
    assert checked.returncode == 0, checked.failure
    assert checked.changed("Create the appliance's interface in the public subnet")
    message = checked.result("Say what check mode cannot show before the interface exists")["msg"]
    assert "launch the appliance lz-test-vpn-appliance" in message and "Elastic IP" in message
    assert snapshot(endpoint) == before


# --------------------------------------------------------------------------- what users get wrong


INSTANCE_TYPE_MESSAGE = "The instance type t2.micro is not offered in the Local Zone us-east-1-bos-1a."


# Every kind of bad address is named in the unit tests of the rule
# (tests/unit/plugins/module_utils/test_validation_addresses.py); here, the role's wiring of it: the
# lab's address without the lab exemption (the likeliest slip) and a value that is no address at all.
@pytest.mark.parametrize("address, words", [
    (LAB_CUSTOMER_GATEWAY, "198.18.0.0/15, benchmark space"),
    ("not-an-address", "is not an IPv4 address"),
], ids=["benchmark", "garbage"])
def test_bad_address_and_instance_type_are_named_together_before_any_change(endpoint, address, words):
    world = build_existing_environment(endpoint)
    before = snapshot(endpoint)
    variables = world.variables(endpoint, vpn_appliance_launch=True, lz_failover_customer_gateway_address=address,
                                vpn_appliance_instance_type="t2.micro")
    run = run_playbook("provision.yml", variables)
    assert run.returncode != 0
    assert f"vpn_appliance_customer_gateway_address: {address}" in run.failure or f"'{address}'" in run.failure, run.failure
    assert words in run.failure and INSTANCE_TYPE_MESSAGE in run.failure, run.failure
    assert "set vpn_appliance_instance_type to one of them" in run.failure
    assert "Traceback" not in json.dumps(run.output)
    assert run.changed_tasks == []
    assert snapshot(endpoint) == before


def test_before_a_new_network_exists_the_appliance_settings_are_checked_against_its_local_zone(endpoint):
    before = snapshot(endpoint)
    variables = network_variables(endpoint, vpn_appliance_launch=True, vpn_appliance_instance_type="t2.micro")
    run = run_playbook("provision.yml", variables)
    assert run.returncode != 0
    assert "vpn_appliance_customer_gateway_address is not set" in run.failure, run.failure
    assert INSTANCE_TYPE_MESSAGE in run.failure, run.failure
    assert run.changed_tasks == []
    assert snapshot(endpoint) == before


def test_launching_on_an_interface_another_instance_uses_is_refused(endpoint):
    world = build_existing_environment(endpoint)
    foreign_eni_id = add_foreign_resources(endpoint, world)
    before = snapshot(endpoint)
    run = run_playbook("provision.yml", world.variables(endpoint, lz_failover_vpn_eni_id=foreign_eni_id, **LAUNCH))
    assert run.returncode != 0
    assert f"The interface {foreign_eni_id} is attached to i-" in run.failure, run.failure
    assert "set vpn_appliance_launch to false to keep that appliance" in run.failure
    assert run.changed_tasks == []
    assert snapshot(endpoint) == before
