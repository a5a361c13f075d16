# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The endpoint's request log (tools/endpoint/request_log.py; GET/DELETE /_fidelity/requests).

Calls go through boto3 with retries off and with access keys of their own, so each
record can be matched to the call that made it.
"""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.aws import NO_RETRIES
from harness.aws import REGION
from harness.aws import delete_request_log
from harness.aws import get_request_log
from harness.aws import http_json
from harness.aws import put_fault
from harness.aws import reset_server
from tools.endpoint import request_log
from tests.unit.tools.endpoint.test_faults import http_post_form

pytestmark = pytest.mark.moto

CALLER_A = "AKIAMONITORA"
CALLER_B = "AKIAMONITORB"


def client(endpoint_url, service, access_key_id):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url, aws_access_key_id=access_key_id,
                        aws_secret_access_key="testing", config=NO_RETRIES)


@pytest.fixture
def endpoint(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    """A freshly reset endpoint (through ``ec2``) with an empty request log."""
    delete_request_log(ec2_endpoint)
    return ec2_endpoint


def logged(endpoint_url, **fields):
    return [entry for entry in get_request_log(endpoint_url)["requests"] if all(entry[key] == value for key, value in fields.items())]


def test_each_api_request_is_recorded_with_its_caller_service_action_status_and_times(endpoint):
    before = time.time()
    client(endpoint, "ec2", CALLER_A).describe_vpcs()
    client(endpoint, "ec2", CALLER_B).describe_subnets()
    after = time.time()
    log = get_request_log(endpoint)
    assert (log["dropped"], log["capacity"]) == (0, request_log.CAPACITY)
    entries = log["requests"]
    assert [(entry["access_key_id"], entry["service"], entry["region"], entry["action"], entry["status"]) for entry in entries] == [
        (CALLER_A, "ec2", REGION, "DescribeVpcs", 200),
        (CALLER_B, "ec2", REGION, "DescribeSubnets", 200),
    ]
    assert before <= entries[0]["start"] <= entries[0]["end"] <= entries[1]["start"] <= entries[1]["end"] <= after


def test_json_protocol_requests_are_recorded_by_their_target_operation(endpoint):
    dynamodb = client(endpoint, "dynamodb", CALLER_A)
    dynamodb.list_tables()
    with pytest.raises(ClientError):
        dynamodb.describe_table(TableName="missing")
    assert [(entry["service"], entry["action"], entry["status"]) for entry in logged(endpoint, access_key_id=CALLER_A)] == [
        ("dynamodb", "ListTables", 200), ("dynamodb", "DescribeTable", 400),
    ]


def test_errors_are_recorded_with_the_status_served(endpoint):
    ec2 = client(endpoint, "ec2", CALLER_A)
    put_fault(endpoint, "DescribeVpcs", "RequestLimitExceeded")
    with pytest.raises(ClientError):
        ec2.describe_vpcs()
    with pytest.raises(ClientError):
        ec2.delete_route(RouteTableId="rtb-00000000000000000", DestinationCidrBlock="198.19.0.0/24")
    assert [(entry["action"], entry["status"]) for entry in logged(endpoint)] == [("DescribeVpcs", 503), ("DeleteRoute", 400)]


def test_a_delayed_request_spans_its_delay(endpoint):
    put_fault(endpoint, "DescribeVpcs", None, delay_ms=300)
    client(endpoint, "ec2", CALLER_A).describe_vpcs()
    [entry] = logged(endpoint, action="DescribeVpcs")
    assert entry["end"] - entry["start"] >= 0.3


def test_an_unsigned_ec2_request_has_no_caller(endpoint):
    assert http_post_form(endpoint, "Action=DescribeVpcs&Version=2016-11-15")[0] == 200
    assert [(entry["access_key_id"], entry["service"], entry["region"], entry["action"]) for entry in logged(endpoint)] == [
        (None, "ec2", None, "DescribeVpcs"),
    ]


def test_control_and_moto_api_requests_are_not_recorded(endpoint):
    assert http_json("GET", f"{endpoint}/_fidelity/health")[0] == 200
    assert http_json("GET", f"{endpoint}/_fidelity/faults")[0] == 200
    assert http_json("GET", f"{endpoint}/moto-api/data.json")[0] == 200
    assert get_request_log(endpoint)["requests"] == []


def test_since_keeps_the_requests_that_ended_at_or_after_it(endpoint):
    ec2 = client(endpoint, "ec2", CALLER_A)
    ec2.describe_vpcs()
    first_end = logged(endpoint)[0]["end"]
    ec2.describe_subnets()
    assert [entry["action"] for entry in get_request_log(endpoint, since=first_end)["requests"]] == ["DescribeVpcs", "DescribeSubnets"]
    assert [entry["action"] for entry in get_request_log(endpoint, since=first_end + 1e-6)["requests"]] == ["DescribeSubnets"]
    assert get_request_log(endpoint, since=time.time() + 60)["requests"] == []


@pytest.mark.parametrize("since", ["yesterday", "nan", ""])
def test_since_must_be_a_number(endpoint, since):
    status, body = http_json("GET", f"{endpoint}/_fidelity/requests?since={since}")
    assert status == 400 and body["error"]["code"] == "InvalidParameterValue"


def test_other_methods_are_refused(endpoint):
    assert http_json("PUT", f"{endpoint}/_fidelity/requests", {})[0] == 405
    assert http_json("POST", f"{endpoint}/_fidelity/requests", {})[0] == 405


def test_delete_and_moto_reset_empty_the_log(endpoint):
    ec2 = client(endpoint, "ec2", CALLER_A)
    ec2.describe_vpcs()
    assert delete_request_log(endpoint) == {"requests": [], "dropped": 0, "capacity": request_log.CAPACITY}
    ec2.describe_vpcs()
    assert len(get_request_log(endpoint)["requests"]) == 1
    reset_server(endpoint)
    assert get_request_log(endpoint)["requests"] == []
    assert request_log.requests()["requests"] == [], "the in-process view is the server's"


def test_the_ring_keeps_the_newest_records_and_counts_the_dropped_ones():
    ring = request_log.RequestLog(3)
    for number in range(5):
        ring.add({"start": float(number), "end": float(number) + 0.5, "action": "A%d" % number})
    snapshot = ring.snapshot()
    assert [entry["action"] for entry in snapshot["requests"]] == ["A2", "A3", "A4"]
    assert (snapshot["dropped"], snapshot["capacity"]) == (2, 3)
    assert [entry["action"] for entry in ring.snapshot(since=3.5)["requests"]] == ["A3", "A4"]
    ring.clear()
    assert ring.snapshot() == {"requests": [], "dropped": 0, "capacity": 3}
