# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coordination table's calls (aws.coordination) against the local endpoint's DynamoDB (moto, conditional writes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from harness.aws import REGION
from harness.aws import reset_server
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import acquire_or_renew
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import put_view
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import release
from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import lease_of
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from tests.support.coordination_table import create_coordination_table

pytestmark = pytest.mark.moto

TABLE = "lz-failover-coordination"
GROUP = "group-1"
LEASE_S = 8


@pytest.fixture
def dynamodb(ec2_endpoint):
    """A DynamoDB client on a freshly reset endpoint, with the coordination table."""
    reset_server(ec2_endpoint)
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=ec2_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
    create_coordination_table(client, TABLE)
    return client


def lease(client, group=GROUP):
    return lease_of(read_group(client, TABLE, group))


def take(client, monitor_id, now, group=GROUP):
    """What a monitor does each round: read, then take or renew from what it read."""
    return acquire_or_renew(client, TABLE, group, monitor_id, lease(client, group), now, LEASE_S)


def test_the_first_monitor_takes_an_absent_lease_with_fencing_one(dynamodb):
    record = take(dynamodb, "a", now=1000.0)
    assert (record.holder, record.fencing, record.expires_at, record.lease_s) == ("a", 1, 1008.0, 8)
    assert lease(dynamodb) == record


def test_two_monitors_racing_from_the_same_read_give_exactly_one_holder(dynamodb):
    for round_number, racers in enumerate((["a", "b"], ["c", "d"], ["e", "f"])):
        seen = lease(dynamodb)
        now = 1000.0 + round_number * 100  # each round starts after the previous lease expired; neither racer holds it
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda monitor_id, seen=seen, now=now: acquire_or_renew(dynamodb, TABLE, GROUP, monitor_id, seen, now, LEASE_S), racers))
        winners = [result for result in results if result is not None]
        assert len(winners) == 1, results
        assert lease(dynamodb) == winners[0]
        assert winners[0].fencing == round_number + 1


def test_fencing_grows_by_one_per_new_holder_and_not_on_renewal(dynamodb):
    assert take(dynamodb, "a", now=1000.0).fencing == 1
    assert take(dynamodb, "a", now=1001.0).fencing == 1, "renewal"
    assert take(dynamodb, "b", now=1005.0) is None, "a valid lease is not taken"
    assert take(dynamodb, "b", now=1009.5).fencing == 2, "expired in b's clock: taken"
    assert take(dynamodb, "a", now=1010.0) is None, "a sees b's valid lease"
    assert take(dynamodb, "a", now=1020.0).fencing == 3


def test_a_renewal_by_a_monitor_that_is_no_longer_the_holder_fails(dynamodb):
    stale = take(dynamodb, "a", now=1000.0)
    take(dynamodb, "b", now=1010.0)  # a's lease expired, b took it
    assert acquire_or_renew(dynamodb, TABLE, GROUP, "a", stale, 1011.0, LEASE_S) is None
    assert lease(dynamodb).holder == "b" and lease(dynamodb).fencing == 2


def test_a_take_from_a_stale_read_fails_when_another_took_the_lease_meanwhile(dynamodb):
    take(dynamodb, "a", now=1000.0)
    stale = lease(dynamodb)
    take(dynamodb, "b", now=1010.0)
    assert acquire_or_renew(dynamodb, TABLE, GROUP, "c", stale, 1010.5, LEASE_S) is None, "the fencing changed since c's read"


def test_release_lets_another_monitor_take_the_lease_at_once(dynamodb):
    held = take(dynamodb, "a", now=1000.0)
    assert not release(dynamodb, TABLE, GROUP, "b", held.fencing, 1001.0), "only the holder releases"
    assert not release(dynamodb, TABLE, GROUP, "a", held.fencing + 1, 1001.0), "with its own fencing"
    assert take(dynamodb, "b", now=1001.5) is None
    assert release(dynamodb, TABLE, GROUP, "a", held.fencing, 1002.0)
    taken = take(dynamodb, "b", now=1002.01)
    assert (taken.holder, taken.fencing) == ("b", 2)
    assert not release(dynamodb, TABLE, GROUP, "a", held.fencing, 1003.0), "a released lease taken by b is b's"


def test_groups_do_not_share_a_lease_and_views_are_read_with_the_group(dynamodb):
    take(dynamodb, "a", now=1000.0, group="g1")
    assert take(dynamodb, "b", now=1000.0, group="g2").fencing == 1
    put_view(dynamodb, TABLE, "g1", "a", 1000.5, dx_state="passing", desired_path="dx", role="holder")
    items = read_group(dynamodb, TABLE, "g1")
    records = sorted(item[schema.SORT_KEY]["S"] for item in items)
    assert records == [schema.LEASE_RECORD, schema.monitor_record("a")]
    view = [item for item in items if item[schema.SORT_KEY]["S"] == schema.monitor_record("a")][0]
    assert view[schema.VIEW_ROLE] == {"S": "holder"} and view[schema.VIEW_DESIRED_PATH] == {"S": "dx"}


def test_other_errors_are_raised_as_api_errors(dynamodb):
    with pytest.raises(AwsApiError) as excinfo:
        read_group(dynamodb, "no-such-table", GROUP)
    assert excinfo.value.code == "ResourceNotFoundException" and excinfo.value.operation == "Query"
