# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DynamoDB conditional writes through the endpoint are atomic: of monitors taking one lease, exactly one wins.

Without item_writes.py, moto let two of them win about once in twenty such races.
"""

from __future__ import annotations

import threading

import boto3
import botocore.config
import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import acquire_or_renew
from harness.aws import REGION
from harness.aws import reset_server
from tests.support.coordination_table import TABLE
from tests.support.coordination_table import create_coordination_table
from tools.endpoint.item_writes import is_item_write

pytestmark = pytest.mark.moto

RACERS = 4
ROUNDS = 60


@pytest.fixture
def dynamodb(ec2_endpoint):
    reset_server(ec2_endpoint)
    client = boto3.client(
        "dynamodb", region_name=REGION, endpoint_url=ec2_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
        config=botocore.config.Config(max_pool_connections=RACERS, retries={"total_max_attempts": 1}),
    )
    create_coordination_table(client)
    return client


def race_once(client, group):
    """RACERS monitors, released together, each taking the absent lease of ``group``; the ones that got it."""
    start, winners = threading.Barrier(RACERS), []

    def racer(monitor_id):
        start.wait()
        if acquire_or_renew(client, TABLE, group, monitor_id, None, 1000.0, 8) is not None:
            winners.append(monitor_id)

    threads = [threading.Thread(target=racer, args=("monitor-%d" % number,)) for number in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_of_monitors_taking_one_lease_exactly_one_wins_every_time(dynamodb):
    for number in range(ROUNDS):
        winners = race_once(dynamodb, "group-%d" % number)
        assert len(winners) == 1, "round %d: %s" % (number, winners)


def test_only_dynamodb_item_writes_are_serialized():
    def environ(target, scope="us-east-1/dynamodb"):
        return {"HTTP_X_AMZ_TARGET": target, "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKID/20261204/%s/aws4_request, "
                "SignedHeaders=host, Signature=0" % scope, "QUERY_STRING": ""}

    assert is_item_write(environ("DynamoDB_20120810.UpdateItem"))
    assert is_item_write(environ("DynamoDB_20120810.PutItem"))
    assert not is_item_write(environ("DynamoDB_20120810.Query"))
    assert not is_item_write(environ("Logs_20140328.PutLogEvents", scope="us-east-1/logs"))
