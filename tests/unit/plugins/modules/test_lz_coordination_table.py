# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lz_coordination_table against the local endpoint (moto's DynamoDB): create, converge, refuse what is not ours, delete.

The module runs in-process with lz_prefix_list's stand-in for AnsibleAWSModule, whose
client is a boto3 DynamoDB client of the fidelity server, so every call is real.
"""

from __future__ import annotations

import boto3
import pytest

from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from ansible_collections.localzones.failover.plugins.modules import lz_coordination_table
from harness.aws import DUMMY_CREDENTIALS
from harness.aws import REGION
from harness.aws import reset_server
from tests.unit.plugins.modules.test_lz_prefix_list import module_runner

pytestmark = pytest.mark.moto

NAME = "lz-failover-coordination"
OURS = {"localzones.failover/role": "coordination"}


@pytest.fixture
def dynamodb(ec2_endpoint):
    """A boto3 DynamoDB client on a freshly reset fidelity server."""
    reset_server(ec2_endpoint)
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=ec2_endpoint,
                        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def run_module(monkeypatch, dynamodb):
    """``run_module(check_mode=False, client=dynamodb, **params)``: the task's result against the endpoint (``failed`` says whether it failed)."""
    run = module_runner(monkeypatch, lz_coordination_table, name=NAME)
    return lambda check_mode=False, client=dynamodb, **params: run(client, check_mode, **params)


def tables(dynamodb):
    """Every table with its tags: what a refused or checked task must leave alone."""
    found = {}
    for name in dynamodb.list_tables()["TableNames"]:
        arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
        found[name] = {tag["Key"]: tag["Value"] for tag in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    return found


def test_creates_the_on_demand_table_with_the_schemas_keys_and_takes_a_lease_item(run_module, dynamodb):
    result = run_module(tags={"localzones.failover/managed-by": "lz-test"})
    assert not result["failed"] and result["changed"] and result["billing_mode"] == "PAY_PER_REQUEST"
    table = dynamodb.describe_table(TableName=NAME)["Table"]
    assert result["table_arn"] == table["TableArn"] and table["TableStatus"] == "ACTIVE"
    assert sorted((key["AttributeName"], key["KeyType"]) for key in table["KeySchema"]) == [
        (schema.PARTITION_KEY, "HASH"), (schema.SORT_KEY, "RANGE")]
    assert tables(dynamodb)[NAME] == dict(OURS, **{"localzones.failover/managed-by": "lz-test"})
    # The layout the monitors write: items of two groups, read back per group.
    for group in ("a", "b"):
        dynamodb.put_item(TableName=NAME, Item=schema.key(group, schema.LEASE_RECORD))
    items = dynamodb.query(TableName=NAME, KeyConditionExpression="failover_group = :g", ExpressionAttributeValues={":g": {"S": "a"}})
    assert [item[schema.SORT_KEY]["S"] for item in items["Items"]] == [schema.LEASE_RECORD]


def test_a_second_run_changes_nothing_and_keeps_the_items(run_module, dynamodb):
    first = run_module()
    dynamodb.put_item(TableName=NAME, Item=schema.key("lz-test", schema.LEASE_RECORD))
    again = run_module()
    assert (again["changed"], again["actions"], again["table_arn"]) == (False, [], first["table_arn"])
    assert dynamodb.scan(TableName=NAME)["Count"] == 1


def test_check_mode_plans_the_creation_without_making_it(run_module, dynamodb):
    result = run_module(check_mode=True)
    assert result["changed"] and [action["step"] for action in result["actions"]] == ["create"]
    assert (result["table_arn"], result["billing_mode"]) == (None, "PAY_PER_REQUEST")
    assert tables(dynamodb) == {}


def test_completes_the_tags_and_on_demand_billing_of_its_own_table(run_module, dynamodb):
    dynamodb.create_table(TableName=NAME, KeySchema=coordination_keys(), AttributeDefinitions=attribute_definitions(),
                          BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                          Tags=[{"Key": key, "Value": value} for key, value in OURS.items()])
    result = run_module(tags={"Name": "coordination"})
    assert [action["step"] for action in result["actions"]] == ["billing", "tag"]
    assert dynamodb.describe_table(TableName=NAME)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert tables(dynamodb)[NAME] == dict(OURS, Name="coordination")


def test_refuses_a_table_of_that_name_it_did_not_create(run_module, dynamodb):
    dynamodb.create_table(TableName=NAME, KeySchema=coordination_keys(), AttributeDefinitions=attribute_definitions(),
                          BillingMode="PAY_PER_REQUEST")
    before = tables(dynamodb)
    result = run_module()
    assert result["failed"] and "not created by this project" in result["msg"]
    absent = run_module(state="absent")
    assert not absent["failed"] and not absent["changed"] and any(NAME in warning for warning in absent["warnings"])
    assert tables(dynamodb) == before


def test_refuses_its_own_table_with_another_key_schema(run_module, dynamodb):
    dynamodb.create_table(TableName=NAME, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                          Tags=[{"Key": key, "Value": value} for key, value in OURS.items()])
    result = run_module()
    assert result["failed"] and "failover_group" in result["msg"] and "record" in result["msg"]


def test_absent_deletes_its_own_table_and_then_has_nothing_to_do(run_module, dynamodb):
    run_module()
    checked = run_module(check_mode=True, state="absent")
    assert checked["changed"] and NAME in tables(dynamodb)
    result = run_module(state="absent")
    assert result["changed"] and result["actions"] == [{"step": "delete", "table_name": NAME}] and result["table_arn"] is None
    assert tables(dynamodb) == {}
    assert run_module(state="absent")["changed"] is False


def test_a_bad_name_fails_before_any_call(run_module, stubbed_client):
    """The client has no answers scripted: any call at all would fail the test with botocore's stub error."""
    client, _stubber = stubbed_client("dynamodb")
    result = run_module(client=client, name="a b")
    assert result["failed"] and "DynamoDB table name" in result["msg"]


def coordination_keys():
    return [{"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"}, {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"}]


def attribute_definitions():
    return [{"AttributeName": schema.PARTITION_KEY, "AttributeType": "S"}, {"AttributeName": schema.SORT_KEY, "AttributeType": "S"}]
