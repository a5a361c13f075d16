# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A coordination table on the local endpoint (moto's DynamoDB), made with the schema's constants."""

from __future__ import annotations

import boto3

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import ATTRIBUTE_DEFINITIONS
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import KEY_SCHEMA
from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from harness.aws import REGION

TABLE = "lz-failover-coordination"


def dynamodb_client(endpoint_url, region=REGION):
    """A boto3 DynamoDB client for the endpoint, with dummy credentials."""
    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing")


def create_coordination_table(client, table=TABLE):
    """The table as the provisioning makes it: partition key ``failover_group``, sort key ``record``, on demand."""
    client.create_table(TableName=table, BillingMode=schema.BILLING_MODE, KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTE_DEFINITIONS)
    return table


def put_lease(client, group, holder, fencing, expires_at, table=TABLE):
    """A lease item as a monitor writes it (for tests of the readers)."""
    item = schema.key(group, schema.LEASE_RECORD)
    item.update({schema.HOLDER: {"S": holder}, schema.FENCING: {"N": str(fencing)}, schema.EXPIRES_AT: {"N": str(expires_at)}})
    client.put_item(TableName=table, Item=item)


def put_view(client, group, monitor_id, role, dx_state, desired_path, updated_at, table=TABLE):
    """A monitor's view item as a monitor writes it (for tests of the readers)."""
    item = schema.key(group, schema.monitor_record(monitor_id))
    item.update({schema.VIEW_MONITOR_ID: {"S": monitor_id}, schema.VIEW_ROLE: {"S": role}, schema.VIEW_DX_STATE: {"S": dx_state},
                 schema.VIEW_DESIRED_PATH: {"S": desired_path}, schema.VIEW_UPDATED_AT: {"N": str(updated_at)}})
    client.put_item(TableName=table, Item=item)
