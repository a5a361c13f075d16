# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EC2's request throttling in the endpoint (tools/endpoint/throttling.py; PUT/GET/DELETE /_fidelity/throttling).

The EC2 calls go through boto3 with retries off, so every throttling error is
seen as the server answered it.  Time is a fake clock handed to
throttling.configure() (the server runs in this process), so nothing refills
while a burst is sent and no test sleeps.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from harness.aws import NO_RETRIES
from harness.aws import REGION
from harness.aws import ec2_client
from harness.aws import get_fault_stats
from harness.aws import http_json
from harness.aws import put_fault
from harness.aws import reset_server
from tools.endpoint import throttling
from tools.endpoint.server import serve
from tools.endpoint.throttling import BucketSize
from tools.endpoint.throttling import TokenBucket

from tests.unit.tools.endpoint.ec2_calls import api_error
from tests.unit.tools.endpoint.ec2_calls import route_table

pytestmark = pytest.mark.moto

OTHER_REGION = "us-west-2"
OTHER_ACCOUNT = "111122223333"
DEFAULT_ACCOUNT = "123456789012"


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(ec2):  # pylint: disable=unused-argument
    """A fake clock for a freshly reset server (through ``ec2``); throttling is back at its start-up settings afterwards."""
    yield FakeClock()
    throttling.reset()


def throttling_url(endpoint_url):
    return f"{endpoint_url}/_fidelity/throttling"


def get_throttling(endpoint_url):
    status, body = http_json("GET", throttling_url(endpoint_url))
    assert status == 200, body
    return body


def counter_of(stats, action, region=REGION, account=DEFAULT_ACCOUNT):
    (counter,) = [counter for counter in stats["counters"]
                  if (counter["action"], counter["region"], counter["account"]) == (action, region, account)]
    return counter


def gateway_route_table(ec2):
    """A route table and an attached internet gateway to point routes at."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    return ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"], igw_id


def destination(index):
    return f"203.0.{index // 256}.{index % 256}/32"


def static_destinations(ec2, rtb_id):
    return sorted(route["DestinationCidrBlock"] for route in route_table(ec2, rtb_id)["Routes"] if route["Origin"] == "CreateRoute")


def client_for_account(endpoint_url, account_id, region=REGION):
    """A client without retries whose requests moto attributes to ``account_id`` (the x-moto-account-id header)."""
    client = ec2_client(endpoint_url, region=region, config=NO_RETRIES)

    def add_account_header(request, **_event):
        request.headers["x-moto-account-id"] = account_id

    client.meta.events.register("before-sign.ec2.*", add_account_header)
    return client


# --------------------------------------------------------------------------- bucket arithmetic


def test_bucket_starts_full_and_an_empty_one_loses_nothing():
    bucket = TokenBucket(BucketSize(3, 0), now=0.0)
    assert [bucket.take(0.0) for _request in range(4)] == [True, True, True, False]
    assert bucket.tokens(0.0) == 0.0
    assert not bucket.take(0.0)
    assert bucket.tokens(0.0) == 0.0


def test_bucket_refills_continuously_up_to_its_capacity():
    bucket = TokenBucket(BucketSize(50, 5), now=0.0)
    for _request in range(50):
        assert bucket.take(0.0)
    assert bucket.tokens(0.1) == pytest.approx(0.5)
    assert not bucket.take(0.1)
    assert bucket.take(0.2)
    assert bucket.tokens(0.2) == pytest.approx(0.0, abs=1e-9)
    assert bucket.tokens(60.0) == 50.0


@pytest.mark.parametrize(
    "action, params, category, size",
    [
        ("CreateRoute", {}, "mutating", (50, 5)),
        ("ReplaceRoute", {}, "mutating", (50, 5)),
        ("ModifyManagedPrefixList", {}, "mutating", (50, 5)),
        ("DescribeRouteTables", {}, "non-mutating", (100, 20)),
        ("GetManagedPrefixListEntries", {}, "non-mutating", (100, 20)),
        ("DescribeNetworkInterfaces", {"Filter.1.Name": ["vpc-id"]}, "non-mutating", (100, 20)),
        ("DescribeNetworkInterfaces", {"MaxResults": ["5"]}, "non-mutating", (100, 20)),
        ("DescribeNetworkInterfaces", {"NetworkInterfaceId.1": ["eni-1"]}, "unfiltered-non-mutating", (50, 10)),
        ("CreateTags", {}, "uncategorized", (100, 10)),
        ("ModifyNetworkInterfaceAttribute", {}, "uncategorized", (100, 5)),
        ("CreateNetworkInterface", {}, "uncategorized", (100, 5)),
    ],
)
def test_actions_get_their_category_size(action, params, category, size):
    assert throttling.category_of(action, params) == category
    default = throttling.default_size(action, category)
    assert (default.capacity, default.refill_per_s) == size


def test_overrides_and_scale_size_a_bucket():
    settings = throttling.checked_settings({"scale": 0.1, "buckets": {"CreateRoute": {"capacity": 20}}})
    assert settings.size_of("CreateRoute", "mutating") == BucketSize(2.0, 0.5)
    assert settings.size_of("DeleteRoute", "mutating") == BucketSize(5.0, 0.5)


# --------------------------------------------------------------------------- over HTTP


def test_throttling_is_off_by_default(ec2_no_retries, ec2_endpoint, clock):
    stats = get_throttling(ec2_endpoint)
    assert (stats["enabled"], stats["counters"]) == (False, [])
    throttling.configure(enabled=False, buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    for _request in range(3):
        ec2_no_retries.describe_vpcs()
    assert get_throttling(ec2_endpoint)["counters"] == []


def test_the_51st_create_route_of_a_burst_is_throttled_like_ec2(ec2_no_retries, ec2_endpoint, clock):
    rtb_id, igw_id = gateway_route_table(ec2_no_retries)
    throttling.configure(clock=clock)
    for index in range(50):
        ec2_no_retries.create_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(index), GatewayId=igw_id)

    error = api_error(ec2_no_retries.create_route, RouteTableId=rtb_id, DestinationCidrBlock=destination(50), GatewayId=igw_id)

    assert (error.code, error.status) == ("RequestLimitExceeded", 503)
    assert error.message == (f"Request limit exceeded. Account {DEFAULT_ACCOUNT} has been throttled on ec2:CreateRoute "
                             "because it exceeded its request rate limit.")
    assert destination(50) not in static_destinations(ec2_no_retries, rtb_id)
    counter = counter_of(get_throttling(ec2_endpoint), "CreateRoute")
    assert (counter["category"], counter["capacity"], counter["refill_per_s"]) == ("mutating", 50, 5)
    assert (counter["admitted"], counter["throttled"], counter["tokens"]) == (50, 1, 0)


def test_throttled_answer_carries_a_request_id(ec2_no_retries, ec2_endpoint, clock):
    throttling.configure(buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    ec2_no_retries.describe_vpcs()
    with pytest.raises(ClientError) as excinfo:
        ec2_no_retries.describe_vpcs()
    assert excinfo.value.response["ResponseMetadata"]["RequestId"]


def test_an_empty_create_route_bucket_leaves_describe_route_tables_alone(ec2_no_retries, ec2_endpoint, clock):
    rtb_id, igw_id = gateway_route_table(ec2_no_retries)
    throttling.configure(buckets={"CreateRoute": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    ec2_no_retries.create_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(0), GatewayId=igw_id)
    assert api_error(ec2_no_retries.create_route, RouteTableId=rtb_id, DestinationCidrBlock=destination(1), GatewayId=igw_id).code == "RequestLimitExceeded"

    assert static_destinations(ec2_no_retries, rtb_id) == [destination(0)]
    ec2_no_retries.delete_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(0))
    stats = get_throttling(ec2_endpoint)
    assert counter_of(stats, "DescribeRouteTables")["throttled"] == 0
    assert counter_of(stats, "DeleteRoute")["admitted"] == 1


def test_regions_and_accounts_have_their_own_buckets(ec2_no_retries, ec2_endpoint, clock):
    throttling.configure(buckets={"CreateVpc": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    ec2_no_retries.create_vpc(CidrBlock="10.0.0.0/16")
    assert api_error(ec2_no_retries.create_vpc, CidrBlock="10.1.0.0/16").code == "RequestLimitExceeded"

    ec2_client(ec2_endpoint, region=OTHER_REGION, config=NO_RETRIES).create_vpc(CidrBlock="10.0.0.0/16")
    other_account = client_for_account(ec2_endpoint, OTHER_ACCOUNT)
    other_account.create_vpc(CidrBlock="10.0.0.0/16")
    error = api_error(other_account.create_vpc, CidrBlock="10.1.0.0/16")

    assert f"Account {OTHER_ACCOUNT} has been throttled on ec2:CreateVpc" in error.message
    stats = get_throttling(ec2_endpoint)
    assert (counter_of(stats, "CreateVpc")["admitted"], counter_of(stats, "CreateVpc")["throttled"]) == (1, 1)
    assert counter_of(stats, "CreateVpc", region=OTHER_REGION)["throttled"] == 0
    assert counter_of(stats, "CreateVpc", account=OTHER_ACCOUNT)["throttled"] == 1


def test_tokens_come_back_at_the_refill_rate(ec2_no_retries, clock):
    throttling.configure(buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 5}}, clock=clock)
    ec2_no_retries.describe_vpcs()
    clock.advance(0.1)
    assert api_error(ec2_no_retries.describe_vpcs).code == "RequestLimitExceeded"
    clock.advance(0.1)
    ec2_no_retries.describe_vpcs()
    clock.advance(10.0)
    ec2_no_retries.describe_vpcs()
    assert api_error(ec2_no_retries.describe_vpcs).code == "RequestLimitExceeded"


def test_scale_shrinks_every_bucket(ec2_no_retries, ec2_endpoint):
    status, body = http_json("PUT", throttling_url(ec2_endpoint), {"scale": 0.02})
    assert status == 200, body
    assert (body["enabled"], body["scale"], body["counters"]) == (True, 0.02, [])
    ec2_no_retries.create_vpc(CidrBlock="10.0.0.0/16")
    assert api_error(ec2_no_retries.create_vpc, CidrBlock="10.1.0.0/16").code == "RequestLimitExceeded"
    counter = counter_of(get_throttling(ec2_endpoint), "CreateVpc")
    assert (counter["capacity"], counter["refill_per_s"]) == (pytest.approx(1.0), pytest.approx(0.1))


def test_a_throttled_request_never_reaches_a_fault_rule(ec2_no_retries, ec2_endpoint, clock):
    throttling.configure(buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    put_fault(ec2_endpoint, "DescribeVpcs", "InternalError", count=-1)
    assert api_error(ec2_no_retries.describe_vpcs).code == "InternalError"
    assert api_error(ec2_no_retries.describe_vpcs).code == "RequestLimitExceeded"
    assert get_fault_stats(ec2_endpoint)["requests"] == {"DescribeVpcs": 1}


@pytest.mark.parametrize(
    "body, problems",
    [
        ({"enabled": "yes"}, ['"enabled"']),
        ({"scale": 0}, ['"scale"']),
        ({"scale": 1e9}, ['"scale"']),
        ({"describe_lag_ms": -1}, ['"describe_lag_ms"']),
        ({"describe_lag_ms": 1.5}, ['"describe_lag_ms"']),
        ({"buckets": []}, ['"buckets"']),
        ({"buckets": {"Create Route": {"capacity": 1}}}, ["not an EC2 Action name"]),
        ({"buckets": {"CreateRoute": {}}}, ['"buckets.CreateRoute"']),
        ({"buckets": {"CreateRoute": {"capacity": 0}}}, ['"buckets.CreateRoute.capacity"']),
        ({"buckets": {"CreateRoute": {"refill_per_s": -1, "size": 3}}}, ['"buckets.CreateRoute.refill_per_s"', "'size'"]),
        ({"enabled": 1, "scale": -2, "burst": 5}, ['"enabled"', '"scale"', "'burst'"]),
    ],
)
def test_bad_settings_are_refused_naming_every_problem(body, problems):
    with pytest.raises(ValueError) as excinfo:
        throttling.checked_settings(body)
    for problem in problems:
        assert problem in str(excinfo.value)


def put_raw(url, data):
    """PUT a body as it is; return (status, decoded JSON answer)."""
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_a_bad_body_answers_400_and_changes_nothing(ec2, ec2_endpoint, clock):
    throttling.configure(buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    ec2.describe_vpcs()
    before = get_throttling(ec2_endpoint)
    for body in (b"not json", b"[1]", json.dumps({"enabled": 1, "scale": -2, "burst": 5}).encode()):
        status, answer = put_raw(throttling_url(ec2_endpoint), body)
        assert (status, answer["error"]["code"]) == (400, "InvalidJson" if body == b"not json" else "InvalidParameterValue")
    assert "'burst'" in answer["error"]["message"] and '"scale"' in answer["error"]["message"]
    assert get_throttling(ec2_endpoint) == before


def test_delete_turns_throttling_off_and_zeroes_the_counters(ec2_no_retries, ec2_endpoint, clock):
    throttling.configure(buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    ec2_no_retries.describe_vpcs()
    status, body = http_json("DELETE", throttling_url(ec2_endpoint))
    assert status == 200, body
    assert (body["enabled"], body["counters"]) == (False, [])
    ec2_no_retries.describe_vpcs()
    ec2_no_retries.describe_vpcs()


def test_moto_reset_goes_back_to_the_startup_settings(ec2_no_retries, ec2_endpoint, clock):
    throttling.configure(buckets={"DescribeVpcs": {"capacity": 1, "refill_per_s": 0}}, clock=clock)
    ec2_no_retries.describe_vpcs()
    reset_server(ec2_endpoint)
    stats = get_throttling(ec2_endpoint)
    assert (stats["enabled"], stats["buckets"], stats["counters"]) == (False, {}, [])
    ec2_no_retries.describe_vpcs()
    ec2_no_retries.describe_vpcs()


def test_an_endpoint_started_throttling_throttles_with_ec2_sizes_until_turned_off():
    server = serve("127.0.0.1", 0, throttle=True)
    try:
        stats = get_throttling(server.url)
        assert (stats["enabled"], stats["scale"]) == (True, 1.0)
        reset_server(server.url)
        assert get_throttling(server.url)["enabled"] is True
        ec2 = ec2_client(server.url, config=NO_RETRIES)
        ec2.describe_vpcs()
        counter = counter_of(get_throttling(server.url), "DescribeVpcs")
        assert (counter["capacity"], counter["refill_per_s"], counter["admitted"]) == (100, 20, 1)
    finally:
        server.stop()
        throttling.configure_startup(False)


# --------------------------------------------------------------------------- DescribeRouteTables that lags


def test_describe_route_tables_lags_route_changes_by_the_set_delay(ec2_no_retries, clock):
    rtb_id, igw_id = gateway_route_table(ec2_no_retries)
    other_rtb_id, other_igw_id = gateway_route_table(ec2_no_retries)
    throttling.configure(enabled=False, describe_lag_ms=500, clock=clock)
    ec2_no_retries.create_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(0), GatewayId=igw_id)
    ec2_no_retries.create_route(RouteTableId=other_rtb_id, DestinationCidrBlock=destination(9), GatewayId=other_igw_id)

    clock.advance(0.2)
    ec2_no_retries.delete_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(0))
    ec2_no_retries.create_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(1), GatewayId=igw_id)
    assert static_destinations(ec2_no_retries, rtb_id) == []

    clock.advance(0.4)  # 0.6 s after the first CreateRoute, 0.4 s after the DeleteRoute
    assert static_destinations(ec2_no_retries, rtb_id) == [destination(0)]
    assert static_destinations(ec2_no_retries, other_rtb_id) == [destination(9)]

    clock.advance(0.2)
    assert static_destinations(ec2_no_retries, rtb_id) == [destination(1)]


def test_describe_route_tables_is_current_without_a_lag(ec2_no_retries, clock):
    rtb_id, igw_id = gateway_route_table(ec2_no_retries)
    throttling.configure(enabled=True, clock=clock)
    ec2_no_retries.create_route(RouteTableId=rtb_id, DestinationCidrBlock=destination(0), GatewayId=igw_id)
    assert static_destinations(ec2_no_retries, rtb_id) == [destination(0)]
