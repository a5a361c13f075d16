# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's EC2 retry settings against real HTTP faults from the fidelity server.

The client is built the way the modules and the monitor build theirs,
``botocore.config.Config(**retry_config())`` (standard mode), and CreateRoute
goes through ``module_utils.aws.calls.timed_call``.  The server's per-Action counters show
how many requests each call really sent.
"""

from __future__ import annotations

import time

import botocore.config
import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import timed_call
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from harness.aws import ec2_client
from harness.aws import get_fault_stats
from harness.aws import put_fault

pytestmark = pytest.mark.moto

ONPREM = "198.19.0.0/24"
FAULT_DELAY_MS = 200
# How long a call that gets through its faults may take: botocore's standard backoff is the
# behaviour (a random share of 1, 2, 4 s after throttling, of 50, 100 ms after a 5xx), so
# the waits add up to at most 7.6 s (3 throttled answers) and 0.55 s (2 x 5xx), fault delays
# included; measured 2.1 and 2.7 s, 0.51 and 0.60 s (load 4; beside a CPU hog, load 7): sleeps,
# which load barely lengthens. The bounds are 2x and 9x the longest waits.
RETRIED_CALL_BOUND_S = {"RequestLimitExceeded": 15.0, "InternalError": 5.0}


def project_client(endpoint_url, **settings):
    return ec2_client(endpoint_url, config=botocore.config.Config(**retry_config(**settings)))


def create_onprem_route(client, world):
    return timed_call(client, "create_route", RouteTableId=world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=world.vpn_eni_id)


def static_targets(ec2, world):
    table = ec2.describe_route_tables(RouteTableIds=[world.prod_rtb_id])["RouteTables"][0]
    return [route.get("NetworkInterfaceId") for route in table["Routes"]
            if route.get("DestinationCidrBlock") == ONPREM and route["Origin"] == "CreateRoute"]


def create_route_counts(endpoint_url):
    stats = get_fault_stats(endpoint_url)
    return stats["requests"].get("CreateRoute", 0), stats["faults"].get("CreateRoute", 0)


@pytest.mark.parametrize(
    "code, status, faults",
    [
        ("RequestLimitExceeded", 503, 3),
        ("InternalError", 500, 2),
    ],
)
def test_create_route_gets_through_retryable_faults(ec2_endpoint, lz_world, code, status, faults):
    client = project_client(ec2_endpoint)
    # Each fault is answered after FAULT_DELAY_MS, so time spent in failed attempts is known.
    rule = put_fault(ec2_endpoint, "CreateRoute", code, count=faults, delay_ms=FAULT_DELAY_MS)
    assert rule["status"] == status

    started = time.monotonic()
    _response, latency_ms = create_onprem_route(client, lz_world)
    elapsed = time.monotonic() - started

    assert create_route_counts(ec2_endpoint) == (faults + 1, faults), "each fault was answered and retried"
    assert get_fault_stats(ec2_endpoint)["rules"] == []
    assert static_targets(client, lz_world) == [lz_world.vpn_eni_id]
    # The latency covers the whole call, failed attempts included, not just the last one.
    assert faults * FAULT_DELAY_MS <= latency_ms <= elapsed * 1000.0
    print("%s x %d: the call took %.2f s" % (code, faults, elapsed))
    assert elapsed < RETRIED_CALL_BOUND_S[code]


@pytest.mark.parametrize(
    "code, status",
    [
        ("AuthFailure", 401),
        ("RequestExpired", 400),
        ("ExpiredToken", 400),
    ],
)
def test_credential_errors_fail_at_once(ec2, ec2_endpoint, lz_world, code, status):
    client = project_client(ec2_endpoint)
    assert put_fault(ec2_endpoint, "CreateRoute", code, count=-1)["status"] == status

    with pytest.raises(AwsApiError) as excinfo:
        create_onprem_route(client, lz_world)

    assert (excinfo.value.operation, excinfo.value.code) == ("CreateRoute", code)
    assert create_route_counts(ec2_endpoint) == (1, 1), "not retried"
    assert static_targets(ec2, lz_world) == []


def test_throttling_beyond_the_attempts_surfaces_as_aws_api_error(ec2, ec2_endpoint, lz_world):
    # Under constant throttling every attempt costs up to seconds of backoff;
    # three attempts show the same behaviour as the default budget, faster.
    client = project_client(ec2_endpoint, max_attempts=3)
    attempts = client.meta.config.retries["total_max_attempts"]
    assert attempts == 3, "max_attempts counts the first try"
    put_fault(ec2_endpoint, "CreateRoute", "RequestLimitExceeded", count=attempts + 1)

    with pytest.raises(AwsApiError) as excinfo:
        create_onprem_route(client, lz_world)

    assert excinfo.value.code == "RequestLimitExceeded"
    assert excinfo.value.latency_ms > 0
    assert create_route_counts(ec2_endpoint) == (attempts, attempts)
    assert [rule["remaining"] for rule in get_fault_stats(ec2_endpoint)["rules"]] == [1]
    assert static_targets(ec2, lz_world) == []
