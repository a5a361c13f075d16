# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS roles (network, failover_iam, vpn_appliance, utility_instance) through
playbooks/provision.yml and playbooks/teardown.yml, run by ansible-playbook against
the EC2 fidelity endpoint, each test on a freshly reset account."""

from __future__ import annotations

import json
import secrets
import warnings

import boto3
import pytest
import yaml

from harness.aws import REGION
from harness.aws import reset_server
from harness.provision import MANAGED_BY
from harness.provision import NAME
from harness.provision import PROBE_TARGETS
from harness.provision import ROLE_TAG
from harness.provision import aws_connection
from harness.provision import aws_ec2_inventory
from harness.provision import base_variables
from harness.provision import build_existing_environment
from harness.provision import clients
from harness.provision import managed_by
from harness.provision import network_variables
from harness.provision import run_module
from harness.provision import run_playbook
from harness.provision import run_playbook_plainly
from harness.provision import snapshot
from harness.provision import tags_of
from harness.vpn_appliance import CUSTOMER_GATEWAY
from harness.vpn_appliance import appliance_of
from harness.vpn_appliance import assert_appliance
from harness.vpn_appliance import only

with warnings.catch_warnings():
    # parliament imports pkg_resources, which warns about its own deprecation.
    warnings.simplefilter("ignore", UserWarning)
    from parliament import analyze_policy_string

pytestmark = pytest.mark.moto

ACCOUNT = "123456789012"
ROUTE_ACTIONS = {"ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute"}
POLICY_NAME = "localzones-failover-routes"
COORDINATION_TABLE = f"{NAME}-coordination"


@pytest.fixture
def endpoint(ec2_endpoint):
    """The fidelity endpoint, reset: every test starts from an empty account."""
    reset_server(ec2_endpoint)
    return ec2_endpoint


def dynamodb_client(endpoint_url):
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)


def by_name(items, name):
    return next(item for item in items if tags_of(item).get("Name") == name)


def as_list(value):
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- a new environment


def assert_new_environment(endpoint, first, provisioned):
    """What provision.yml with the network role built for monitors in pairs, as the first run reported it."""
    ec2, iam, _sns = clients(endpoint)

    vpc = only(ec2.describe_vpcs(Filters=[{"Name": f"tag:{MANAGED_BY}", "Values": [NAME]}])["Vpcs"])
    vpc_id = vpc["VpcId"]
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"] is True
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    zones = {tags_of(subnet)["Name"]: subnet["AvailabilityZone"] for subnet in subnets}
    assert zones == {f"{NAME}-publicsubnet1": "us-east-1-bos-1a", f"{NAME}-privatesubnet1": "us-east-1-bos-1a",
                     f"{NAME}-privatesubnet2": "us-east-1-bos-1a", f"{NAME}-privatesubnet3": "us-east-1a"}
    subnet_ids = {tags_of(subnet)["Name"].rsplit("-", 1)[1]: subnet["SubnetId"] for subnet in subnets}

    igw = only(ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"])
    vgw = only([gateway for gateway in ec2.describe_vpn_gateways()["VpnGateways"] if gateway["State"] == "available"])
    assert vgw["VpcAttachments"] == [{"VpcId": vpc_id, "State": "attached"}]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    public = by_name(tables, f"{NAME}-publicsubnet1")
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw["InternetGatewayId"], "Origin": "CreateRoute", "State": "active"} in public["Routes"]
    for name in ("privatesubnet1", "privatesubnet2"):
        table = by_name(tables, f"{NAME}-{name}")
        assert table["PropagatingVgws"] == [{"GatewayId": vgw["VpnGatewayId"]}]
        assert [association["SubnetId"] for association in table["Associations"]] == [subnet_ids[name]]

    endpoints = {item["ServiceName"].rsplit(".", 1)[1]: item for item in ec2.describe_vpc_endpoints()["VpcEndpoints"] if item["State"] != "deleted"}
    assert sorted(endpoints) == ["dynamodb", "ec2"]
    for service, endpoint_ in endpoints.items():
        assert endpoint_["ServiceName"] == f"com.amazonaws.{REGION}.{service}"
        assert (endpoint_["VpcEndpointType"], endpoint_["SubnetIds"]) == ("Interface", [subnet_ids["privatesubnet3"]])
        assert tags_of(endpoint_)["Name"] == f"{NAME}-{service}-endpoint"
    # One security group (HTTPS from the VPC) for both.
    assert endpoints["dynamodb"]["Groups"] == endpoints["ec2"]["Groups"]
    # The monitors reach DynamoDB by the endpoint's regional name (DynamoDB has no private DNS for it),
    # handed on through the provisioned variables: the first DnsEntries name, not one of a zone's.
    regional = endpoints["dynamodb"]["DnsEntries"][0]["DnsName"]
    assert regional.startswith(endpoints["dynamodb"]["VpcEndpointId"] + "-") and regional.endswith(f".dynamodb.{REGION}.vpce.amazonaws.com")
    assert provisioned["lz_failover_dynamodb_endpoint_url"] == f"https://{regional}"

    eni = only(ec2.describe_network_interfaces(Filters=[{"Name": f"tag:{ROLE_TAG}", "Values": ["vpn-appliance"]}])["NetworkInterfaces"])
    assert eni["SubnetId"] == subnet_ids["publicsubnet1"]
    assert eni["SourceDestCheck"] is False

    pair = sorted((item for reservation in ec2.describe_instances()["Reservations"] for item in reservation["Instances"]
                   if tags_of(item).get(ROLE_TAG) == "utility"), key=lambda item: tags_of(item)["Name"])
    assert [tags_of(item)["Name"] for item in pair] == [f"{NAME}-utility", f"{NAME}-utility-2"]
    instance = pair[0]
    placed = (instance["InstanceType"], instance["SubnetId"], instance["Placement"]["AvailabilityZone"])
    assert placed == ("t3.medium", subnet_ids["privatesubnet2"], "us-east-1-bos-1a")
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"/localzones-failover/{NAME}-monitor")
    debian = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"][0]
    assert debian["Name"].startswith("debian-12-amd64-")

    group = only(instance["SecurityGroups"])
    rules = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    assert rules["IpPermissions"] == []
    egress = sorted((rule["IpProtocol"], rule.get("FromPort"), [item.get("CidrIp") or item.get("CidrIpv6") for item in rule["IpRanges"] + rule["Ipv6Ranges"]])
                    for rule in rules["IpPermissionsEgress"])
    assert egress == sorted([("icmp", 8, [f"{PROBE_TARGETS[0]}/32"]), ("icmpv6", 128, [f"{PROBE_TARGETS[1]}/128"]), ("tcp", 443, ["10.0.0.0/16"])])

    trust = iam.get_role(RoleName=f"{NAME}-monitor")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    outputs = first.result("Publish the utility instance")["ansible_facts"]["utility_instance_outputs"]
    assert (outputs["host_name"], outputs["private_ip"], outputs["ssh_user"]) == (f"{NAME}-utility", instance["PrivateIpAddress"], "admin")
    # The AWS inventory's own aws_ec2.yml finds it by its tags, in the group the monitor's play targets.
    inventory = aws_ec2_inventory(endpoint)
    assert sorted(inventory["utility"]["hosts"]) == [f"{NAME}-utility", f"{NAME}-utility-2"]
    assert inventory["_meta"]["hostvars"][f"{NAME}-utility"]["private_ip_address"] == instance["PrivateIpAddress"]


def add_unrelated_resources(endpoint):
    """Someone else's: an untagged VPC, a VPC of another failover, a role of another failover at the same IAM path."""
    ec2, iam, _sns = clients(endpoint)
    ec2.create_vpc(CidrBlock="172.20.0.0/16")
    ec2.create_vpc(CidrBlock="172.21.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": MANAGED_BY, "Value": "another"}]}])
    iam.create_role(RoleName="someone-else", Path="/localzones-failover/", AssumeRolePolicyDocument="{}", Tags=[{"Key": MANAGED_BY, "Value": "another"}])


# Three full playbook runs against the endpoint: about 4 minutes on 2 idle cores, so the bound leaves room for a loaded machine.
@pytest.mark.timeout(900)
def test_the_aws_inventorys_path_provisions_then_changes_nothing_then_teardown_removes_only_ours(endpoint, tmp_path):
    # The path inventories/aws takes (a new network, the appliance launched, monitors in pairs: the
    # coordination table, its DynamoDB endpoint and two utility instances) as one lifecycle in one
    # test: a full run is the slowest step, so it is done once.
    add_unrelated_resources(endpoint)
    before = snapshot(endpoint)
    provisioned_file = tmp_path / "provisioned.yml"
    variables = network_variables(endpoint, vpn_appliance_launch=True, lz_failover_customer_gateway_address=CUSTOMER_GATEWAY,
                                  lz_failover_coordination_table=COORDINATION_TABLE, utility_instance_count=2,
                                  lz_failover_provision_vars_file=str(provisioned_file))

    first = run_playbook("provision.yml", variables)
    assert first.returncode == 0, first.failure
    assert_new_environment(endpoint, first, yaml.safe_load(provisioned_file.read_text(encoding="utf-8")))
    ec2, _iam, _sns = clients(endpoint)
    assert_appliance(ec2, appliance_of(ec2)["NetworkInterfaces"][0]["NetworkInterfaceId"], CUSTOMER_GATEWAY, first)
    ours = managed_by(snapshot(endpoint))
    assert {kind: len(ids) for kind, ids in ours.items()} == {
        "vpcs": 1, "subnets": 4, "route_tables": 3, "internet_gateways": 1, "vpn_gateways": 1, "vpc_endpoints": 2,
        "security_groups": 3, "network_interfaces": 1, "instances": 3, "iam_roles": 1, "instance_profiles": 1,
    }

    second = run_playbook("provision.yml", variables)
    assert second.returncode == 0, second.failure
    assert second.changed_tasks == []
    assert second.stats["changed"] == 0

    removed = run_playbook("teardown.yml", base_variables(endpoint, lz_failover_coordination_table=COORDINATION_TABLE))
    assert removed.returncode == 0, removed.failure
    assert dynamodb_client(endpoint).list_tables()["TableNames"] == []
    after = snapshot(endpoint)
    assert managed_by(after) == {}
    assert after == before


def test_check_mode_on_a_fresh_account_changes_nothing(endpoint):
    before = snapshot(endpoint)
    checked = run_playbook("provision.yml", network_variables(endpoint), "--check")
    assert checked.returncode == 0, checked.failure
    assert checked.changed("Create the VPC with DNS support and DNS hostnames")
    assert snapshot(endpoint) == before


# --------------------------------------------------------------------------- an existing environment


def test_policy_scopes_route_changes_to_the_managed_tables_and_passes_parliament(endpoint):
    world = build_existing_environment(endpoint)
    _ec2, _iam, sns = clients(endpoint)
    topic_arn = sns.create_topic(Name="lz-failover-events")["TopicArn"]
    # Monitors in pairs as the AWS inventory sets them: the coordination table and two utility instances.
    variables = world.variables(endpoint, failover_iam_sns_topic_arn=topic_arn,
                                failover_iam_cloudwatch_metrics={"enabled": True, "namespace": "LocalZonesFailover"},
                                lz_failover_coordination_table=COORDINATION_TABLE, utility_instance_count=2)
    run = run_playbook("provision.yml", variables)
    assert run.returncode == 0, run.failure

    ec2, iam, _sns = clients(endpoint)
    document = iam.get_role_policy(RoleName=f"{NAME}-monitor", PolicyName=POLICY_NAME)["PolicyDocument"]
    statements = document["Statement"]
    mutating = [statement for statement in statements if ROUTE_ACTIONS & set(as_list(statement["Action"]))]
    assert [set(as_list(statement["Action"])) for statement in mutating] == [ROUTE_ACTIONS]
    assert as_list(mutating[0]["Resource"]) == [f"arn:aws:ec2:{REGION}:{ACCOUNT}:route-table/{world.prod_rtb_id}"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert set(as_list(by_sid["ReadRouteTablesAndInterfaces"]["Action"])) == {"ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces"}
    assert (by_sid["PublishFailoverNotifications"]["Action"], by_sid["PublishFailoverNotifications"]["Resource"]) == ("sns:Publish", topic_arn)
    # Exactly the one call the monitor's CloudWatch publisher makes, in its namespace only.
    assert (by_sid["PutFailoverMetrics"]["Action"], by_sid["PutFailoverMetrics"]["Resource"]) == ("cloudwatch:PutMetricData", "*")
    assert by_sid["PutFailoverMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "LocalZonesFailover"}}
    # The coordination table's items, of this failover group only.
    assert (by_sid["CoordinateTheFailoverGroup"]["Resource"], by_sid["CoordinateTheFailoverGroup"]["Condition"]) == (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{COORDINATION_TABLE}", {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [NAME]}})
    assert analyze_policy_string(json.dumps(document), include_community_auditors=True).findings == []

    # The existing appliance interface is prepared and marked, but not made the failover's own.
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[world.vpn_eni_id])["NetworkInterfaces"][0]
    assert eni["SourceDestCheck"] is False
    assert tags_of(eni) == {"Name": "vpn-appliance", ROLE_TAG: "vpn-appliance"}
    instances = [item for reservation in ec2.describe_instances()["Reservations"] for item in reservation["Instances"]
                 if tags_of(item).get(ROLE_TAG) == "utility"]
    assert sorted((tags_of(item)["Name"], item["SubnetId"]) for item in instances) == [
        (f"{NAME}-utility", world.probe_subnet_id), (f"{NAME}-utility-2", world.probe_subnet_id)]
    table = dynamodb_client(endpoint).describe_table(TableName=COORDINATION_TABLE)["Table"]
    assert (table["TableStatus"], table["BillingModeSummary"]["BillingMode"]) == ("ACTIVE", "PAY_PER_REQUEST")


# --------------------------------------------------------------------------- lz_zone_info


def test_zone_info_reports_opt_in_offerings_and_unknown_names(endpoint):
    args = {"zone_names": ["us-east-1-nyc-1a", "us-east-1-bos-1a", "us-east-1-xyz-1a"], "instance_type_offerings": True,
            "region": REGION, "endpoint_url": endpoint}
    result = run_module("lz_zone_info", args)
    assert result["changed"] is False
    assert [(zone["zone_name"], zone["zone_type"], zone["group_name"], zone["opt_in_status"]) for zone in result["zones"]] == [
        ("us-east-1-nyc-1a", "local-zone", "us-east-1-nyc-1", "not-opted-in"), ("us-east-1-bos-1a", "local-zone", "us-east-1-bos-1", "opted-in")]
    assert result["zones"][1]["parent_zone_name"] == "us-east-1a"
    assert result["zones"][1]["instance_types"] == ["c5.2xlarge", "g4dn.2xlarge", "r5.2xlarge", "t3.medium", "t3.xlarge"]
    assert result["missing_zone_names"] == ["us-east-1-xyz-1a"]


# --------------------------------------------------------------------------- what users get wrong


def _not_a_local_zone(endpoint):
    return network_variables(endpoint, network_local_zone="us-east-1a"), "us-east-1a is not a Local Zone: its zone type is availability-zone"


def _not_opted_in(endpoint):
    return (network_variables(endpoint, network_local_zone="us-east-1-nyc-1a"),
            "The account is not opted in to the zone group us-east-1-nyc-1 of the Local Zone us-east-1-nyc-1a")


def _instance_type_not_offered(endpoint):
    return (network_variables(endpoint, utility_instance_instance_type="t2.micro"),
            "The instance type t2.micro is not offered in the Local Zone us-east-1-bos-1a")


def _subnet_not_in_a_local_zone(endpoint):
    world = build_existing_environment(endpoint, zone="us-east-1a")
    message = f"The VPN appliance's subnet {world.public_subnet_id} is in us-east-1a, a zone of type availability-zone, not in a Local Zone"
    return world.variables(endpoint), message


def _route_table_not_in_the_vpc(endpoint):
    world = build_existing_environment(endpoint)
    variables = world.variables(endpoint, lz_failover_route_table_ids=[world.other_rtb_id])
    return variables, f"Route table {world.other_rtb_id} is in {world.other_vpc_id}, not in the VPC of the VPN appliance {world.vpc_id}"


def _no_region(endpoint):
    return network_variables(endpoint, lz_failover_region=None), "No AWS region: set lz_failover_region"


def _no_credentials(endpoint):
    variables = network_variables(endpoint, lz_failover_aws=aws_connection(endpoint, credentials=False))
    return variables, "AWS did not accept the credentials for us-east-1"


@pytest.mark.parametrize("mistake", [_not_a_local_zone, _not_opted_in, _instance_type_not_offered, _subnet_not_in_a_local_zone,
                                     _route_table_not_in_the_vpc, _no_region, _no_credentials], ids=lambda mistake: mistake.__name__.strip("_"))
def test_a_user_mistake_is_one_clear_message_before_any_change(endpoint, mistake):
    variables, message = mistake(endpoint)
    before = snapshot(endpoint)
    run = run_playbook("provision.yml", variables, credentials=mistake is not _no_credentials)
    assert run.returncode != 0
    assert message in (run.failure or ""), run.failure
    assert "Traceback" not in json.dumps(run.output)
    assert run.changed_tasks == []
    assert snapshot(endpoint) == before


def test_the_secret_key_never_appears_in_the_output_at_any_verbosity(endpoint):
    # The endpoint takes any key, so a unique one shows every place it could leak to.
    canary = "lz-canary-secret-" + secrets.token_hex(8)
    variables = build_existing_environment(endpoint).variables(endpoint, lz_failover_aws={**aws_connection(endpoint), "secret_key": canary})
    completed = run_playbook_plainly("provision.yml", variables, "-vvv", "--check", "--diff",
                                     environment={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "Remember the settings that passed the checks" in completed.stdout
    assert canary not in completed.stdout + completed.stderr
