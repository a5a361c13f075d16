# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""API fault injection of the endpoint (tools/endpoint/faults.py; PUT/GET/DELETE /_fidelity/faults).

The EC2 calls go through boto3 with retries off, so every injected error is
seen exactly as the server answered it (code, HTTP status, message).
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.aws import NO_RETRIES
from harness.aws import delete_faults
from harness.aws import ec2_client
from harness.aws import faults_url
from harness.aws import get_fault_stats
from harness.aws import http_json
from harness.aws import put_fault
from harness.aws import reset_server
from harness.waiting import wait_for
from tools.endpoint import faults

pytestmark = pytest.mark.moto

ONPREM_V4 = "198.19.0.0/24"


def served_error(call, **kwargs):
    """Call the API expecting an error; return (code, HTTP status, message, request id)."""
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    response = excinfo.value.response
    metadata = response["ResponseMetadata"]
    return response["Error"]["Code"], metadata["HTTPStatusCode"], response["Error"]["Message"], metadata.get("RequestId")


def http_post_form(endpoint_url, form):
    """POST an unsigned EC2 query-protocol form; return (status, body text)."""
    request = urllib.request.Request(f"{endpoint_url}/", data=form.encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def static_routes_to(ec2, rtb_id, destination):
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return [route for route in table["Routes"] if route.get("DestinationCidrBlock") == destination and route["Origin"] == "CreateRoute"]


# --------------------------------------------------------------------------- fault kinds


@pytest.mark.parametrize(
    "code, status",
    [
        ("RequestLimitExceeded", 503),
        ("InternalError", 500),
        ("Unavailable", 503),
        ("AuthFailure", 401),
        ("RequestExpired", 400),
        ("ExpiredToken", 400),
    ],
)
def test_fault_kind_surfaces_with_ec2_code_and_status(ec2_no_retries, ec2_endpoint, code, status):
    rule = put_fault(ec2_endpoint, "DescribeVpcs", code)
    assert (rule["code"], rule["status"], rule["count"], rule["remaining"]) == (code, status, 1, 1)
    served_code, served_status, message, request_id = served_error(ec2_no_retries.describe_vpcs)
    assert (served_code, served_status) == (code, status)
    assert message == rule["message"] and message
    assert request_id, "the RequestID of the error body reaches ResponseMetadata"


def test_status_and_message_can_be_chosen(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "RequestLimitExceeded", status=429, message="slow <down> & retry")
    assert served_error(ec2_no_retries.describe_vpcs)[:3] == ("RequestLimitExceeded", 429, "slow <down> & retry")


def test_unknown_code_defaults_to_400(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "InvalidRouteTableID.NotFound")
    assert served_error(ec2_no_retries.describe_vpcs)[:2] == ("InvalidRouteTableID.NotFound", 400)


def test_error_body_is_ec2_query_protocol_xml(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    put_fault(ec2_endpoint, "DescribeVpcs", "InternalError", message="broken")
    status, body = http_post_form(ec2_endpoint, "Action=DescribeVpcs&Version=2016-11-15")
    assert status == 500
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InternalError</Code><Message>broken</Message>')
    assert "</Error></Errors><RequestID>" in body and body.endswith("</RequestID></Response>")


# --------------------------------------------------------------------------- matching and counts


def test_count_is_honoured_then_requests_pass(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "RequestLimitExceeded", count=2)
    assert served_error(ec2_no_retries.describe_vpcs)[0] == "RequestLimitExceeded"
    assert get_fault_stats(ec2_endpoint)["rules"][0]["remaining"] == 1
    assert served_error(ec2_no_retries.describe_vpcs)[0] == "RequestLimitExceeded"
    assert ec2_no_retries.describe_vpcs()["Vpcs"], "moto's default VPC"
    stats = get_fault_stats(ec2_endpoint)
    assert stats["rules"] == [], "an exhausted rule is dropped"
    assert (stats["requests"], stats["faults"]) == ({"DescribeVpcs": 3}, {"DescribeVpcs": 2})


def test_rule_only_matches_its_action(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "CreateRoute", "RequestLimitExceeded", count=-1)
    ec2_no_retries.describe_vpcs()
    ec2_no_retries.describe_subnets()
    stats = get_fault_stats(ec2_endpoint)
    assert stats["faults"] == {}
    assert stats["requests"] == {"DescribeVpcs": 1, "DescribeSubnets": 1}


def test_star_matches_any_action(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "*", "Unavailable", count=2)
    assert served_error(ec2_no_retries.describe_vpcs)[:2] == ("Unavailable", 503)
    assert served_error(ec2_no_retries.describe_route_tables)[:2] == ("Unavailable", 503)
    ec2_no_retries.describe_subnets()
    assert get_fault_stats(ec2_endpoint)["faults"] == {"DescribeVpcs": 1, "DescribeRouteTables": 1}


def test_count_minus_one_lasts_until_cleared(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "AuthFailure", count=-1)
    for _call in range(5):
        assert served_error(ec2_no_retries.describe_vpcs)[:2] == ("AuthFailure", 401)
    rule = get_fault_stats(ec2_endpoint)["rules"][0]
    assert (rule["count"], rule["remaining"]) == (-1, -1)
    assert delete_faults(ec2_endpoint) == {"rules": [], "requests": {}, "faults": {}, "delayed": {}}
    ec2_no_retries.describe_vpcs()


def test_rules_serve_in_the_order_they_were_added(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "RequestLimitExceeded", count=1)
    put_fault(ec2_endpoint, "*", "InternalError", count=1)
    assert served_error(ec2_no_retries.describe_vpcs)[0] == "RequestLimitExceeded"
    assert served_error(ec2_no_retries.describe_vpcs)[0] == "InternalError"
    ec2_no_retries.describe_vpcs()
    assert get_fault_stats(ec2_endpoint)["rules"] == []
    assert put_fault(ec2_endpoint, "CreateRoute", "InternalError")["id"] == 3


def test_faulted_create_route_changes_nothing_and_the_body_reaches_moto(ec2_no_retries, ec2_endpoint, lz_world):
    put_fault(ec2_endpoint, "CreateRoute", "RequestLimitExceeded")
    put_fault(ec2_endpoint, "DescribeVpcs", "InternalError", count=-1)  # read the body of every request, fault none of these
    kwargs = {"RouteTableId": lz_world.prod_rtb_id, "DestinationCidrBlock": ONPREM_V4, "NetworkInterfaceId": lz_world.vpn_eni_id}
    assert served_error(ec2_no_retries.create_route, **kwargs)[0] == "RequestLimitExceeded"
    assert static_routes_to(ec2_no_retries, lz_world.prod_rtb_id, ONPREM_V4) == []
    ec2_no_retries.create_route(**kwargs)
    [route] = static_routes_to(ec2_no_retries, lz_world.prod_rtb_id, ONPREM_V4)
    assert route["NetworkInterfaceId"] == lz_world.vpn_eni_id
    stats = get_fault_stats(ec2_endpoint)
    assert stats["requests"]["CreateRoute"] == 2 and stats["faults"] == {"CreateRoute": 1}


# --------------------------------------------------------------------------- slow API


def test_delay_only_slows_the_call_and_answers_normally(ec2_no_retries, ec2_endpoint):
    rule = put_fault(ec2_endpoint, "DescribeVpcs", None, delay_ms=400)
    assert (rule["code"], rule["status"], rule["delay_ms"]) == (None, None, 400)
    started = time.monotonic()
    vpcs = ec2_no_retries.describe_vpcs()["Vpcs"]
    elapsed = time.monotonic() - started
    ec2_no_retries.describe_vpcs()
    stats = get_fault_stats(ec2_endpoint)
    assert vpcs
    # count 1: the endpoint delayed the first call only.
    assert (stats["delayed"], stats["faults"], stats["requests"]) == ({"DescribeVpcs": 1}, {}, {"DescribeVpcs": 2})
    assert elapsed >= 0.4, "answered after the delay (a lower bound: a loaded machine only adds to it)"


def test_delay_then_error(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "InternalError", delay_ms=300)
    started = time.monotonic()
    assert served_error(ec2_no_retries.describe_vpcs)[:2] == ("InternalError", 500)
    assert time.monotonic() - started >= 0.3


def test_a_slow_request_does_not_hold_up_others(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", None, delay_ms=2500)
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(ec2_client(ec2_endpoint, config=NO_RETRIES).describe_vpcs)
        wait_for(lambda: get_fault_stats(ec2_endpoint)["delayed"].get("DescribeVpcs"), 10, "the slow request to reach the endpoint")
        ec2_no_retries.describe_subnets()
        assert not slow.done(), "the other request was answered while the slow one was still held"
        assert slow.result()["Vpcs"]


# --------------------------------------------------------------------------- counters and scope


def test_stats_count_requests_and_faults_per_action(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeSubnets", "InternalError", count=1)
    ec2_no_retries.describe_vpcs()
    ec2_no_retries.describe_vpcs()
    served_error(ec2_no_retries.describe_subnets)
    ec2_no_retries.describe_subnets()
    stats = get_fault_stats(ec2_endpoint)
    assert stats["requests"] == {"DescribeVpcs": 2, "DescribeSubnets": 2}
    assert stats["faults"] == {"DescribeSubnets": 1}
    assert stats["delayed"] == {}


def test_control_and_other_services_are_not_ec2_requests(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "*", "InternalError", count=-1)
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=ec2_endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=NO_RETRIES)
    assert sts.get_caller_identity()["Account"]
    assert http_json("GET", f"{ec2_endpoint}/_fidelity/health")[0] == 200
    assert served_error(ec2_no_retries.describe_vpcs)[0] == "InternalError"
    assert get_fault_stats(ec2_endpoint)["requests"] == {"DescribeVpcs": 1}


def test_concurrent_requests_spend_each_fault_once(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "RequestLimitExceeded", count=10)
    barrier = threading.Barrier(8)

    def worker():
        client = ec2_client(ec2_endpoint, config=NO_RETRIES)
        barrier.wait()
        failures = 0
        for _call in range(4):
            try:
                client.describe_vpcs()
            except ClientError:
                failures += 1
        return failures

    with ThreadPoolExecutor(max_workers=8) as pool:
        failures = sum(pool.map(lambda _: worker(), range(8)))
    stats = get_fault_stats(ec2_endpoint)
    assert failures == 10
    assert (stats["requests"], stats["faults"], stats["rules"]) == ({"DescribeVpcs": 32}, {"DescribeVpcs": 10}, [])
    assert ec2_no_retries.describe_vpcs()["Vpcs"]


# --------------------------------------------------------------------------- clearing


def test_delete_clears_rules_and_counters(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "DescribeVpcs", "InternalError", count=-1)
    served_error(ec2_no_retries.describe_vpcs)
    assert get_fault_stats(ec2_endpoint)["requests"] == {"DescribeVpcs": 1}
    assert delete_faults(ec2_endpoint) == {"rules": [], "requests": {}, "faults": {}, "delayed": {}}
    ec2_no_retries.describe_vpcs()
    assert get_fault_stats(ec2_endpoint)["requests"] == {"DescribeVpcs": 1}
    assert put_fault(ec2_endpoint, "*", "InternalError")["id"] == 1, "ids start again"


def test_moto_reset_clears_rules_and_counters(ec2_no_retries, ec2_endpoint):
    put_fault(ec2_endpoint, "*", "InternalError", count=-1)
    served_error(ec2_no_retries.describe_vpcs)
    reset_server(ec2_endpoint)
    assert get_fault_stats(ec2_endpoint) == {"rules": [], "requests": {}, "faults": {}, "delayed": {}}
    ec2_no_retries.describe_vpcs()


# --------------------------------------------------------------------------- one caller, other services

CALLER_A = "AKIAMONITORA"
CALLER_B = "AKIAMONITORB"


def client_of(endpoint_url, service, access_key_id):
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint_url, aws_access_key_id=access_key_id,
                        aws_secret_access_key="testing", config=NO_RETRIES)


def test_a_rule_with_an_access_key_id_hits_only_that_caller(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    rule = put_fault(ec2_endpoint, "*", "Unavailable", count=-1, access_key_id=CALLER_A)
    assert (rule["access_key_id"], rule["service"]) == (CALLER_A, "ec2")
    assert served_error(client_of(ec2_endpoint, "ec2", CALLER_A).describe_vpcs)[:2] == ("Unavailable", 503)
    assert client_of(ec2_endpoint, "ec2", CALLER_B).describe_vpcs()["Vpcs"]
    assert get_fault_stats(ec2_endpoint)["faults"] == {"DescribeVpcs": 1}


def test_a_caller_cut_off_from_every_service_while_the_other_still_reaches_them(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    put_fault(ec2_endpoint, "*", "ServiceUnavailable", count=-1, access_key_id=CALLER_A, service="*")
    dynamodb_a, dynamodb_b = client_of(ec2_endpoint, "dynamodb", CALLER_A), client_of(ec2_endpoint, "dynamodb", CALLER_B)
    assert served_error(dynamodb_a.list_tables)[:3] == ("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server.")
    assert served_error(client_of(ec2_endpoint, "ec2", CALLER_A).describe_vpcs)[:2] == ("ServiceUnavailable", 503)
    assert served_error(client_of(ec2_endpoint, "sts", CALLER_A).get_caller_identity)[:2] == ("ServiceUnavailable", 503)
    assert dynamodb_b.list_tables()["TableNames"] == []
    assert client_of(ec2_endpoint, "ec2", CALLER_B).describe_vpcs()["Vpcs"]
    stats = get_fault_stats(ec2_endpoint)
    assert stats["faults"] == {"dynamodb:ListTables": 1, "DescribeVpcs": 1, "sts:GetCallerIdentity": 1}
    assert stats["requests"] == {"DescribeVpcs": 2}, "requests counts EC2's only"


def test_a_rule_for_one_service_leaves_ec2_alone(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    put_fault(ec2_endpoint, "UpdateItem", "ProvisionedThroughputExceededException", status=400, count=-1, service="dynamodb")
    dynamodb = client_of(ec2_endpoint, "dynamodb", CALLER_A)
    assert dynamodb.list_tables()["TableNames"] == []
    assert served_error(dynamodb.update_item, TableName="t", Key={"k": {"S": "v"}})[:2] == ("ProvisionedThroughputExceededException", 400)
    assert client_of(ec2_endpoint, "ec2", CALLER_A).describe_vpcs()["Vpcs"]
    assert get_fault_stats(ec2_endpoint)["faults"] == {"dynamodb:UpdateItem": 1}


def test_a_delay_rule_for_another_service_answers_it_normally_after_the_delay(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    put_fault(ec2_endpoint, "ListTables", None, delay_ms=300, service="dynamodb", access_key_id=CALLER_B)
    started = time.monotonic()
    tables = client_of(ec2_endpoint, "dynamodb", CALLER_B).list_tables()["TableNames"]
    elapsed = time.monotonic() - started
    assert tables == []
    assert get_fault_stats(ec2_endpoint)["delayed"] == {"dynamodb:ListTables": 1}
    assert elapsed >= 0.3


# --------------------------------------------------------------------------- control API errors


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "RequestLimitExceeded",
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "count": 0},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "count": -2},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "count": "3"},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "count": True},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "count": 1.5},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "status": 200},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "status": 600},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "delay_ms": -1},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "delay_ms": 300_001},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "message": 5},
        {"action": "CreateRoute", "code": "Request Limit"},
        {"action": "", "code": "RequestLimitExceeded"},
        {"action": "Create*", "code": "RequestLimitExceeded"},
        {"action": "CreateRoute", "code": None},
        {"action": "CreateRoute", "code": None, "delay_ms": 0},
        {"action": "CreateRoute", "code": None, "delay_ms": 100, "status": 503},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "delay": 100},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "access_key_id": "AKIA/ONE"},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "access_key_id": ""},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "access_key_id": 5},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "service": "EC2"},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "service": ""},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "service": None},
    ],
)
def test_control_rejects_bad_rules_and_adds_nothing(ec2, ec2_endpoint, body):  # pylint: disable=unused-argument
    status, answer = http_json("PUT", faults_url(ec2_endpoint), body)
    assert status == 400, answer
    assert answer["error"]["code"] in ("InvalidJson", "InvalidParameterValue")
    assert get_fault_stats(ec2_endpoint)["rules"] == []


def test_control_rejects_non_json_and_other_methods(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    request = urllib.request.Request(faults_url(ec2_endpoint), data=b"{not json", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)  # pylint: disable=consider-using-with
    with excinfo.value as error:
        assert error.code == 400
    assert http_json("POST", faults_url(ec2_endpoint), {"action": "*", "code": "InternalError"})[0] == 405
    assert get_fault_stats(ec2_endpoint)["rules"] == []


def test_control_defaults(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    status, answer = http_json("PUT", faults_url(ec2_endpoint), {"code": "InternalError"})
    assert status == 200
    assert answer["rule"] == {"id": 1, "action": "*", "code": "InternalError", "status": 500, "count": 1, "remaining": 1,
                              "delay_ms": 0, "message": "An internal error has occurred.", "access_key_id": None, "service": "ec2"}


# --------------------------------------------------------------------------- in-process API


def test_in_process_api_shares_state_with_the_server(ec2_no_retries, ec2_endpoint):
    rule = faults.add_fault("DescribeVpcs", "Unavailable", count=-1)
    assert rule["status"] == 503
    assert served_error(ec2_no_retries.describe_vpcs)[:2] == ("Unavailable", 503)
    stats = faults.fault_stats()
    assert stats == get_fault_stats(ec2_endpoint)
    assert stats["faults"] == {"DescribeVpcs": 1}
    faults.clear_faults()
    assert get_fault_stats(ec2_endpoint)["rules"] == []
    ec2_no_retries.describe_vpcs()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "count": 0},
        {"action": "CreateRoute", "code": None},
        {"action": "CreateRoute", "code": "RequestLimitExceeded", "status": 302},
        {"action": "Create Route", "code": "RequestLimitExceeded"},
    ],
)
def test_in_process_api_rejects_bad_rules(ec2, kwargs):  # pylint: disable=unused-argument
    with pytest.raises(ValueError):
        faults.add_fault(**kwargs)
    assert faults.fault_stats()["rules"] == []
