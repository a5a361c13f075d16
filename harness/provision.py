# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the tests of the AWS roles (playbooks/provision.yml and teardown.yml).

``run_playbook`` runs a playbook as ``ansible-playbook`` does for a user (a
subprocess with its own inventory, the collection from .cache/collections, dummy
AWS credentials, the endpoint passed as a variable) and returns the JSON
callback's account of every task.  ``snapshot`` reads everything the roles could
create or touch, so a test can say "nothing changed" or "only ours is gone".
``build_existing_environment`` builds, through the EC2 API, the network a user
would already have when provision.yml runs without the network role.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import boto3
import yaml

from harness.aws import DUMMY_CREDENTIALS
from harness.aws import FailoverNetwork
from harness.aws import ONPREM_CIDRS
from harness.aws import REGION
from harness.aws import create_route_table
from harness.aws import name_tags
from harness.aws import put_learned_prefixes
from harness.paths import COLLECTIONS_ROOT
from harness.paths import REPO_ROOT

BIN = os.path.dirname(sys.executable)
MANAGED_BY = "localzones.failover/managed-by"
ROLE_TAG = "localzones.failover/role"
NAME = "lz-test"
PROBE_TARGETS = ("198.19.0.10", "2001:db8:100::10")
PLAYBOOK_TIMEOUT = 240


# --------------------------------------------------------------------------- running playbooks


@dataclass
class PlaybookRun:
    """What one ansible-playbook run did, from its JSON callback."""

    returncode: int
    output: dict
    stderr: str
    elapsed: float = 0.0

    @property
    def tasks(self):
        """``[(task name, result on localhost)]`` in the order they ran."""
        return [(task["task"]["name"], task["hosts"].get("localhost", {})) for play in self.output.get("plays", []) for task in play["tasks"]]

    @property
    def stats(self):
        """The play recap of localhost: ok, changed, failures, skipped, ..."""
        return self.output.get("stats", {}).get("localhost", {})

    @property
    def changed_tasks(self):
        """Names of the tasks that reported a change (a role's tasks as "role : name")."""
        return [name for name, result in self.tasks if result.get("changed")]

    def changed(self, task_name):
        """Whether the task of that name (in a role or not) reported a change."""
        return any(name == task_name or name.endswith(" : " + task_name) for name in self.changed_tasks)

    @property
    def failure(self):
        """The message of the failed task, or None."""
        failed = [result for _name, result in self.tasks if result.get("failed")]
        return failed[0].get("msg") if failed else None

    def result(self, task_name):
        """The result of the last task of that name (a role's tasks are named "role : name")."""
        matches = [result for name, result in self.tasks if name == task_name or name.endswith(" : " + task_name)]
        assert matches, f"no task named {task_name!r}; tasks: {[name for name, _result in self.tasks]}"
        return matches[-1]


def aws_connection(endpoint_url, credentials=True):
    """The one dict of AWS connection settings the playbooks hand to every AWS module."""
    connection = {"endpoint_url": endpoint_url}
    if credentials:
        connection.update(access_key=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], secret_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return connection


def base_variables(endpoint_url, **overrides):
    """Inventory variables of a failover on the fidelity endpoint."""
    variables = {
        "lz_failover_name": NAME,
        "lz_failover_region": REGION,
        "lz_failover_aws": aws_connection(endpoint_url),
        "lz_failover_probe_targets": list(PROBE_TARGETS),
        "lz_failover_destination_cidrs": list(ONPREM_CIDRS),
    }
    variables.update(overrides)
    return {name: value for name, value in variables.items() if value is not None}


def network_variables(endpoint_url, **overrides):
    """Inventory variables for provision.yml with the network role, in the opted-in Local Zone."""
    return base_variables(endpoint_url, **{"lz_failover_provision_network": True, "network_local_zone": "us-east-1-bos-1a", **overrides})


def ansible_environment(credentials=True):
    """The environment of an ansible-playbook run: this checkout's collection, no AWS settings of the developer."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
        ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_NOCOLOR="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        # No instance metadata service to ask for credentials on a test machine.
        AWS_EC2_METADATA_DISABLED="true",
    )
    if credentials:
        env.update(AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return env


def run_playbook_plainly(playbook, variables, *args, credentials=True, environment=None):
    """Run ``playbooks/<playbook>`` on localhost with ``variables`` as its inventory; return the CompletedProcess."""
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}, "vars": variables}}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="lz-inventory-", delete=False) as handle:
        yaml.safe_dump(inventory, handle)
    try:
        argv = [os.path.join(BIN, "ansible-playbook"), "-i", handle.name, os.path.join("playbooks", playbook), *args]
        return subprocess.run(argv, env={**ansible_environment(credentials), **(environment or {})}, cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
    finally:
        os.unlink(handle.name)


def run_playbook(playbook, variables, *args, credentials=True):
    """Run ``playbooks/<playbook>`` on localhost with ``variables`` as its inventory; return a PlaybookRun."""
    started = time.monotonic()
    completed = run_playbook_plainly(playbook, variables, *args, credentials=credentials)
    try:
        output = json.loads(completed.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook printed no JSON (rc {completed.returncode}):\n{completed.stdout}\n{completed.stderr}") from None
    return PlaybookRun(completed.returncode, output, completed.stderr, time.monotonic() - started)


def aws_ec2_inventory(endpoint_url, name=NAME):
    """What inventories/aws/aws_ec2.yml (amazon.aws.aws_ec2) finds in the endpoint for the failover ``name``."""
    with open(os.path.join(REPO_ROOT, "inventories", "aws", "aws_ec2.yml"), encoding="utf-8") as handle:
        config = handle.read()
    # The user's one edit for another failover: the name in the tag filter.
    assert "managed-by: lz-failover\n" in config
    with tempfile.TemporaryDirectory(prefix="lz-aws-inventory-") as directory:
        path = os.path.join(directory, "aws_ec2.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(config.replace("managed-by: lz-failover\n", f"managed-by: {name}\n"))
        completed = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", path, "--list"], env={**ansible_environment(), "AWS_URL": endpoint_url},
                                   cwd=REPO_ROOT, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=True)
    return json.loads(completed.stdout, object_hook=_plain_value)


def _plain_value(item):
    """ansible-inventory marks values that came from outside (EC2's answers) as unsafe: the value itself."""
    return item["__ansible_unsafe"] if set(item) == {"__ansible_unsafe"} else item


def run_module(module, args):
    """Run one module of this collection ad hoc on localhost; return its result."""
    argv = [os.path.join(BIN, "ansible"), "localhost", "-m", f"localzones.failover.{module}", "-a", json.dumps(args),
            "-e", f"ansible_python_interpreter={sys.executable}"]
    completed = subprocess.run(argv, env=ansible_environment(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
    try:
        output = json.loads(completed.stdout)
    except ValueError:
        raise AssertionError(f"ansible printed no JSON (rc {completed.returncode}):\n{completed.stdout}\n{completed.stderr}") from None
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


# --------------------------------------------------------------------------- reading the account


def clients(endpoint_url):
    """(ec2, iam, sns) clients for the fidelity endpoint."""
    options = {"region_name": REGION, "endpoint_url": endpoint_url, "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
               "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
    return boto3.client("ec2", **options), boto3.client("iam", **options), boto3.client("sns", **options)


def tags_of(resource):
    """A resource's EC2 or IAM tag list as a dict."""
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags") or resource.get("TagSet") or []}


def _entry(identifier, resource, tags=None, **extra):
    tags = tags_of(resource) if tags is None else tags_of({"Tags": tags})
    return (identifier, json.dumps(tags, sort_keys=True), json.dumps(extra, sort_keys=True, default=str))


def snapshot(endpoint_url):
    """Every live resource the roles create or touch: ``{kind: sorted [(id, tags, attributes)]}``.

    Terminated instances and deleted gateways and endpoints are left out (EC2
    lists them for a while after deletion).
    """
    ec2, iam, _sns = clients(endpoint_url)
    instances = [instance for reservation in ec2.describe_instances()["Reservations"] for instance in reservation["Instances"]
                 if instance["State"]["Name"] not in ("shutting-down", "terminated")]
    tables = ec2.describe_route_tables()["RouteTables"]
    roles = iam.list_roles()["Roles"]
    profiles = iam.list_instance_profiles()["InstanceProfiles"]
    found = {
        "vpcs": [_entry(vpc["VpcId"], vpc) for vpc in ec2.describe_vpcs()["Vpcs"]],
        "subnets": [_entry(subnet["SubnetId"], subnet) for subnet in ec2.describe_subnets()["Subnets"]],
        "route_tables": [_entry(table["RouteTableId"], table, routes=sorted(json.dumps(route, sort_keys=True) for route in table["Routes"]),
                                associations=len(table["Associations"]), propagating=table.get("PropagatingVgws")) for table in tables],
        "internet_gateways": [_entry(igw["InternetGatewayId"], igw, attachments=igw.get("Attachments"))
                              for igw in ec2.describe_internet_gateways()["InternetGateways"]],
        "vpn_gateways": [_entry(vgw["VpnGatewayId"], vgw) for vgw in ec2.describe_vpn_gateways()["VpnGateways"] if vgw["State"] != "deleted"],
        "vpc_endpoints": [_entry(endpoint["VpcEndpointId"], endpoint) for endpoint in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                          if endpoint["State"] not in ("deleted", "deleting")],
        "security_groups": [_entry(group["GroupId"], group, ingress=group["IpPermissions"], egress=group["IpPermissionsEgress"])
                            for group in ec2.describe_security_groups()["SecurityGroups"]],
        "network_interfaces": [_entry(eni["NetworkInterfaceId"], eni, source_dest_check=eni["SourceDestCheck"])
                               for eni in ec2.describe_network_interfaces()["NetworkInterfaces"]],
        "instances": [_entry(instance["InstanceId"], instance) for instance in instances],
        # IAM lists carry no tags: read them per role and profile.
        "iam_roles": [_entry(role["RoleName"], role, tags=iam.list_role_tags(RoleName=role["RoleName"])["Tags"],
                             policies=iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]) for role in roles],
        "instance_profiles": [_entry(profile["InstanceProfileName"], profile,
                                     tags=iam.get_instance_profile(InstanceProfileName=profile["InstanceProfileName"])["InstanceProfile"].get("Tags", []),
                                     roles=[role["RoleName"] for role in profile["Roles"]]) for profile in profiles],
    }
    return {kind: sorted(entries) for kind, entries in found.items()}


def managed_by(state, name=NAME):
    """``{kind: [id]}`` of the snapshot's resources tagged as the failover ``name``'s."""
    ours = {}
    for kind, entries in state.items():
        ids = [identifier for identifier, tags, _attributes in entries if json.loads(tags).get(MANAGED_BY) == name]
        if ids:
            ours[kind] = ids
    return ours


# --------------------------------------------------------------------------- an existing network


@dataclass
class ExistingEnvironment(FailoverNetwork):
    """A network built outside the roles, as provision.yml without the network role expects one."""

    zone: str

    def variables(self, endpoint_url, **overrides):
        """Inventory variables of a failover in this environment."""
        return base_variables(endpoint_url, **{
            "lz_failover_route_table_ids": [self.prod_rtb_id],
            "lz_failover_probe_route_table_id": self.probe_rtb_id,
            "lz_failover_vpn_eni_id": self.vpn_eni_id,
            "lz_failover_probe_subnet_id": self.probe_subnet_id,
            **overrides,
        })


def build_existing_environment(endpoint_url, zone="us-east-1-bos-1a"):
    """A VPC with a public and two private subnets in ``zone``, DX propagation, the appliance's interface (untagged), and another VPC."""
    ec2, _iam, _sns = clients(endpoint_url)
    vpc_id = ec2.create_vpc(CidrBlock="198.18.0.0/16", TagSpecifications=name_tags("vpc", "existing"))["Vpc"]["VpcId"]
    subnets = {name: ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=name_tags("subnet", name))["Subnet"]["SubnetId"]
               for name, cidr in (("public", "198.18.1.0/24"), ("prod", "198.18.2.0/24"), ("probe", "198.18.3.0/24"))}
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    public_rtb_id = create_route_table(ec2, vpc_id, subnets["public"], "public")
    ec2.create_route(RouteTableId=public_rtb_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    prod_rtb_id = create_route_table(ec2, vpc_id, subnets["prod"], "prod")
    probe_rtb_id = create_route_table(ec2, vpc_id, subnets["probe"], "probe")
    vgw_id = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=vgw_id)
    for rtb_id in (prod_rtb_id, probe_rtb_id):
        ec2.enable_vgw_route_propagation(RouteTableId=rtb_id, GatewayId=vgw_id)
    put_learned_prefixes(endpoint_url, vgw_id, ONPREM_CIDRS)
    eni_id = ec2.create_network_interface(SubnetId=subnets["public"], Description="VPN appliance",
                                          TagSpecifications=name_tags("network-interface", "vpn-appliance"))["NetworkInterface"]["NetworkInterfaceId"]
    other_vpc_id = ec2.create_vpc(CidrBlock="198.19.128.0/20", TagSpecifications=name_tags("vpc", "other"))["Vpc"]["VpcId"]
    other_subnet_id = ec2.create_subnet(VpcId=other_vpc_id, CidrBlock="198.19.129.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    other_rtb_id = create_route_table(ec2, other_vpc_id, other_subnet_id, "other")
    return ExistingEnvironment(zone=zone, vpc_id=vpc_id, public_subnet_id=subnets["public"], prod_subnet_id=subnets["prod"],
                               probe_subnet_id=subnets["probe"], prod_rtb_id=prod_rtb_id, probe_rtb_id=probe_rtb_id, vgw_id=vgw_id,
                               vpn_eni_id=eni_id, other_vpc_id=other_vpc_id, other_rtb_id=other_rtb_id)
