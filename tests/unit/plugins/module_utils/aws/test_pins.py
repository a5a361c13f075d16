# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Setting, replacing, releasing and reading the operator pin against the local endpoint (moto's DynamoDB)."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.aws.pins import release_pin
from ansible_collections.localzones.failover.plugins.module_utils.aws.pins import set_pin
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import Pin
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import active_pin
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from tests.support.coordination_table import TABLE
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client
from tests.support.coordination_table import put_lease

pytestmark = pytest.mark.moto

NOW = 1_800_000_000.0
GROUP = "lz-failover"


@pytest.fixture
def dynamodb(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    """A DynamoDB client on a freshly reset endpoint (through ``ec2``), with the coordination table."""
    client = dynamodb_client(ec2_endpoint)
    create_coordination_table(client)
    return client


def test_set_then_replace_then_release(dynamodb):
    first = Pin(path="vpn", until=NOW + 600, who="alice", why="DX maintenance", set_at=NOW)
    second = Pin(path="dx", until=None, who="bob", why="back on DX", set_at=NOW + 5)
    put_lease(dynamodb, GROUP, "mon-a", 2, NOW + 8)

    assert set_pin(dynamodb, TABLE, GROUP, first) is None
    assert active_pin(read_group(dynamodb, TABLE, GROUP), NOW + 1) == first
    assert set_pin(dynamodb, TABLE, GROUP, second) == first, "a new pin replaces the one before"
    assert active_pin(read_group(dynamodb, TABLE, GROUP), NOW + 10) == second

    assert release_pin(dynamodb, TABLE, GROUP) == second
    items = read_group(dynamodb, TABLE, GROUP)
    assert active_pin(items, NOW + 10) is None
    assert [item["record"]["S"] for item in items] == ["lease"], "the lease is left alone"
    assert release_pin(dynamodb, TABLE, GROUP) is None, "releasing no pin changes nothing"


def test_a_group_reads_only_its_own_items(dynamodb):
    set_pin(dynamodb, TABLE, "other-group", Pin(path="vpn", until=None, who="a", why="b", set_at=NOW))
    assert read_group(dynamodb, TABLE, GROUP) == []
    assert len(read_group(dynamodb, TABLE, "other-group")) == 1


def test_a_missing_table_is_one_aws_error(dynamodb):
    with pytest.raises(AwsApiError) as caught:
        set_pin(dynamodb, "no-such-table", GROUP, Pin(path="vpn", until=None, who="a", why="b", set_at=NOW))
    assert (caught.value.service, caught.value.operation, caught.value.code) == ("DynamoDB", "PutItem", "ResourceNotFoundException")
