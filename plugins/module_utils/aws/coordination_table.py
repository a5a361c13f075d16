# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitors' coordination table, from the provisioning side: create, check, delete.

The layout is ``coordination.schema``'s (partition key ``failover_group``, sort key
``record``, both strings; on-demand billing). A table is this project's when it carries
the tag ``localzones.failover/role=coordination``: only such a table is changed or
deleted, and a table of that name with another key schema is reported, never rebuilt
(its items would be lost). Planned first, executed second, so check mode is the plan.
Every call goes through ``calls``; the caller builds the DynamoDB client.
"""

from __future__ import annotations

import time

from ..coordination import schema
from ..errors import AwsApiError
from ..errors import FailoverError
from ..errors import ValidationError
from ..tags import ROLE_COORDINATION
from ..tags import ROLE_KEY
from .calls import call

STEP_CREATE = "create"
STEP_BILLING = "billing"
STEP_TAG = "tag"
STEP_DELETE = "delete"

# What DynamoDB answers for a table that does not exist (DescribeTable, ListTagsOfResource).
_NOT_FOUND = "ResourceNotFoundException"
# DynamoDB table names: 3 to 255 of these characters.
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_POLL_INTERVAL_S = 1.0

KEY_SCHEMA = [
    {"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
    {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"},
]
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": schema.PARTITION_KEY, "AttributeType": "S"},
    {"AttributeName": schema.SORT_KEY, "AttributeType": "S"},
]


def validate_table_name(name):
    """Raise ValidationError when ``name`` is not a DynamoDB table name; checked before the first call."""
    if not name or not 3 <= len(name) <= 255 or not set(name) <= _NAME_CHARACTERS:
        raise ValidationError("name %r: a DynamoDB table name is 3 to 255 letters, digits, '_', '.' or '-'" % (name,))


def read_table(client, name):
    """DescribeTable's ``Table`` for ``name``, or None when there is no such table."""
    try:
        return call(client, "describe_table", TableName=name)["Table"]
    except AwsApiError as error:
        if error.code == _NOT_FOUND:
            return None
        raise


def read_table_tags(client, table_arn):
    """The table's tags as a dict."""
    tags = call(client, "list_tags_of_resource", ResourceArn=table_arn).get("Tags", [])
    return {tag["Key"]: tag["Value"] for tag in tags}


def billing_mode(table):
    """The table's billing mode; DynamoDB leaves out the summary of a provisioned table that never had another."""
    return table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")


def layout_problems(table):
    """How the table's keys differ from the coordination layout, one sentence each ([] when they do not)."""
    keys = sorted((item["AttributeName"], item["KeyType"]) for item in table.get("KeySchema", []))
    types = {item["AttributeName"]: item["AttributeType"] for item in table.get("AttributeDefinitions", [])}
    wanted = sorted((item["AttributeName"], item["KeyType"]) for item in KEY_SCHEMA)
    if keys == wanted and all(types.get(item["AttributeName"]) == "S" for item in KEY_SCHEMA):
        return []
    return ["table %r has the key schema %s; the coordination table needs partition key %r and sort key %r, both strings"
            % (table.get("TableName"), keys, schema.PARTITION_KEY, schema.SORT_KEY)]


def plan_table(current, current_tags, name, tags):
    """The steps that make ``current`` (None: absent) the coordination table ``name`` with ``tags``.

    ``tags`` already hold the ownership tag. Raises FailoverError when a table of that
    name is not this project's or has another key schema: nothing is changed then.
    """
    if current is None:
        return [{"step": STEP_CREATE, "table_name": name, "tags": dict(tags)}]
    if current_tags.get(ROLE_KEY) != ROLE_COORDINATION:
        raise FailoverError("table %r was not created by this project (no tag %s=%s); choose another name or delete it"
                            % (name, ROLE_KEY, ROLE_COORDINATION))
    problems = layout_problems(current)
    if problems:
        raise FailoverError("; ".join(problems))
    steps = []
    if billing_mode(current) != schema.BILLING_MODE:
        steps.append({"step": STEP_BILLING, "table_name": name, "billing_mode": schema.BILLING_MODE})
    missing = {key: value for key, value in tags.items() if current_tags.get(key) != value}
    if missing:
        steps.append({"step": STEP_TAG, "table_name": name, "tags": missing})
    return steps


def plan_table_absent(current, current_tags, name):
    """``(steps, foreign)``: delete ``name`` only when it is this project's; ``foreign`` says one is left alone."""
    if current is None:
        return [], False
    if current_tags.get(ROLE_KEY) != ROLE_COORDINATION:
        return [], True
    return [{"step": STEP_DELETE, "table_name": name}], False


def execute_table_plan(client, steps, wait_timeout, sleep=time.sleep, clock=time.monotonic):
    """Make the planned calls in order, each waiting until DynamoDB reports the table settled; the table afterwards (None: deleted)."""
    table = None
    for step in steps:
        name = step["table_name"]
        if step["step"] == STEP_CREATE:
            call(client, "create_table", TableName=name, KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
                 BillingMode=schema.BILLING_MODE, Tags=[{"Key": key, "Value": value} for key, value in step["tags"].items()])
        elif step["step"] == STEP_BILLING:
            call(client, "update_table", TableName=name, BillingMode=step["billing_mode"])
        elif step["step"] == STEP_TAG:
            arn = _wait_active(client, name, wait_timeout, sleep, clock)["TableArn"]
            call(client, "tag_resource", ResourceArn=arn, Tags=[{"Key": key, "Value": value} for key, value in step["tags"].items()])
        elif step["step"] == STEP_DELETE:
            call(client, "delete_table", TableName=name)
            _wait_gone(client, name, wait_timeout, sleep, clock)
            return None
        table = _wait_active(client, name, wait_timeout, sleep, clock)
    return table


def _wait_active(client, name, wait_timeout, sleep, clock):
    deadline = clock() + wait_timeout
    while True:
        table = read_table(client, name)
        if table is not None and table.get("TableStatus") == "ACTIVE":
            return table
        if clock() >= deadline:
            raise FailoverError("table %r is not ACTIVE after %s s (status %s)"
                                % (name, wait_timeout, table.get("TableStatus") if table else "absent"))
        sleep(_POLL_INTERVAL_S)


def _wait_gone(client, name, wait_timeout, sleep, clock):
    deadline = clock() + wait_timeout
    while read_table(client, name) is not None:
        if clock() >= deadline:
            raise FailoverError("table %r is still there %s s after DeleteTable" % (name, wait_timeout))
        sleep(_POLL_INTERVAL_S)
