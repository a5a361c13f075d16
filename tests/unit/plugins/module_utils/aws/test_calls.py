# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils.aws.calls: one wrapper for every service, one error naming the service and the operation.

Direct Connect's own case is in test_directconnect.py.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import call
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import paginate
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import timed_call
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_route_tables
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError

RTB = "rtb-0123456789abcdef0"


def test_an_ec2_failure_names_the_service_and_the_operation(stubbed_client):
    client, stubber = stubbed_client("ec2")
    stubber.add_client_error("create_route", "RouteAlreadyExists", "The route identified by 198.19.0.0/24 already exists.",
                             response_meta={"RequestId": "req-ec2"})
    with pytest.raises(AwsApiError) as caught:
        timed_call(client, "create_route", RouteTableId=RTB, DestinationCidrBlock="198.19.0.0/24", NetworkInterfaceId="eni-0123456789abcdef0")
    error = caught.value
    assert error.message == "EC2 CreateRoute failed: RouteAlreadyExists: The route identified by 198.19.0.0/24 already exists."
    assert (error.service, error.operation, error.code) == ("EC2", "CreateRoute", "RouteAlreadyExists")
    assert error.details == {"service": "EC2", "operation": "CreateRoute", "code": "RouteAlreadyExists", "request_id": "req-ec2"}
    assert error.latency_ms >= 0.0


def test_a_paginated_ec2_read_fails_the_same_way(stubbed_client):
    client, stubber = stubbed_client("ec2")
    stubber.add_client_error("describe_route_tables", "RequestLimitExceeded", "Request limit exceeded.")
    with pytest.raises(AwsApiError) as caught:
        read_route_tables(client, [RTB])
    assert caught.value.message == "EC2 DescribeRouteTables failed: RequestLimitExceeded: Request limit exceeded."


@pytest.mark.parametrize("service, operation, params, named", [
    ("cloudwatch", "put_metric_data", {"Namespace": "LocalZoneFailover", "MetricData": []}, "CloudWatch PutMetricData failed"),
    ("sns", "publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:failover", "Message": "{}"}, "SNS Publish failed"),
])
def test_the_monitors_reporting_services_fail_the_same_way(stubbed_client, service, operation, params, named):
    client, stubber = stubbed_client(service)
    stubber.add_client_error(operation, "Throttling", "Rate exceeded", http_status_code=400)
    with pytest.raises(AwsApiError) as caught:
        call(client, operation, **params)
    assert caught.value.message == named + ": Throttling: Rate exceeded"
    assert isinstance(caught.value, FailoverError), "one hierarchy: callers that catch FailoverError catch this too"


def test_the_answer_and_the_latency_come_back(stubbed_client):
    client, stubber = stubbed_client("ec2")
    route = {"RouteTableId": RTB, "DestinationCidrBlock": "198.19.0.0/24", "NetworkInterfaceId": "eni-0123456789abcdef0"}
    stubber.add_response("create_route", {"Return": True}, route)
    stubber.add_response("describe_route_tables", {"RouteTables": [{"RouteTableId": RTB, "VpcId": "vpc-1", "Routes": []}], "NextToken": "2"})
    stubber.add_response("describe_route_tables", {"RouteTables": [{"RouteTableId": "rtb-2", "VpcId": "vpc-1", "Routes": []}]})
    response, latency_ms = timed_call(client, "create_route", **route)
    assert response == {"Return": True} and latency_ms >= 0.0
    assert [table["RouteTableId"] for table in paginate(client, "describe_route_tables", "RouteTables")] == [RTB, "rtb-2"], "every page"


def test_no_answer_is_named_by_its_class_and_carries_no_request_id():
    class Unreachable:
        def describe_route_tables(self, **_params):
            raise EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com/")

    with pytest.raises(AwsApiError) as caught:
        call(Unreachable(), "describe_route_tables")
    error = caught.value
    assert (error.operation, error.code, error.details["request_id"]) == ("DescribeRouteTables", "EndpointConnectionError", None)
    assert error.message == ("AWS DescribeRouteTables failed: EndpointConnectionError: "
                             'Could not connect to the endpoint URL: "https://ec2.us-east-1.amazonaws.com/"'), "a stand-in without a service model"
