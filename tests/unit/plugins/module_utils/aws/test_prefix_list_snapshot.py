# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""load_snapshot and execute_action for route_strategy prefix_list, with EC2's answers scripted (botocore Stubber, no endpoint).

What the endpoint cannot show is scripted here: AWS-managed lists, lists still
being modified, tables near the routes-per-table quota and EC2's RouteLimitExceeded.
"""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import execute_action
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import ACTION_CREATE
from ansible_collections.localzones.failover.plugins.module_utils.routes import RouteAction

RTB = "rtb-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
PL = "pl-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
ONPREM = "198.19.0.0/24"


def table_with_routes(count):
    """A table holding ``count`` foreign static routes (a transit gateway's)."""
    routes = [{"DestinationCidrBlock": "10.%d.0.0/16" % index, "TransitGatewayId": "tgw-0123456789abcdef0", "Origin": "CreateRoute",
               "State": "active"} for index in range(count)]
    return {"RouteTableId": RTB, "VpcId": VPC, "Routes": routes}


def script_reads(stubber, prefix_list, entries=(ONPREM,), routes=0):
    stubber.add_response("describe_route_tables", {"RouteTables": [table_with_routes(routes)]})
    stubber.add_response("describe_network_interfaces", {"NetworkInterfaces": [{"NetworkInterfaceId": ENI, "VpcId": VPC, "SourceDestCheck": False}]})
    stubber.add_response("describe_managed_prefix_lists", {"PrefixLists": [prefix_list] if prefix_list else []})
    if prefix_list:
        stubber.add_response("get_managed_prefix_list_entries", {"Entries": [{"Cidr": cidr} for cidr in entries]})


def customer_list(**changes):
    prefix_list = {"PrefixListId": PL, "AddressFamily": "IPv4", "State": "create-complete", "MaxEntries": 1, "OwnerId": "123456789012",
                   "PrefixListName": "on-prem"}
    prefix_list.update(changes)
    return prefix_list


def snapshot(client):
    return load_snapshot(client, [RTB], [ONPREM], ENI, route_strategy="prefix_list", prefix_list_id=PL)


def test_an_aws_managed_list_being_modified_is_refused_with_every_reason(stubbed_client):
    client, stubber = stubbed_client("ec2")
    script_reads(stubber, customer_list(OwnerId="AWS", State="modify-in-progress", StateMessage="adding entries"))
    with pytest.raises(ValidationError) as caught:
        snapshot(client)
    assert len(caught.value.problems) == 2
    assert "is managed by AWS" in caught.value.problems[0]
    assert "is modify-in-progress (adding entries); it can be routed to once it is create-complete or modify-complete" in caught.value.problems[1]


def test_a_missing_list_is_named(stubbed_client):
    client, stubber = stubbed_client("ec2")
    script_reads(stubber, None)
    with pytest.raises(ValidationError) as caught:
        snapshot(client)
    assert caught.value.problems == ["prefix_list_id %s not found in us-east-1" % PL]


def snapshot_within(client, quota, strategy="prefix_list", destinations=(ONPREM,)):
    prefix_list_id = PL if strategy == "prefix_list" else None
    return load_snapshot(client, [RTB], list(destinations), ENI, route_strategy=strategy, prefix_list_id=prefix_list_id, routes_per_table_quota=quota)


@pytest.mark.parametrize("foreign_routes, max_entries, refused", [(45, 5, False), (46, 5, True)])
def test_a_table_that_cannot_hold_the_lists_max_entries_is_refused_before_any_change(stubbed_client, foreign_routes, max_entries, refused):
    client, stubber = stubbed_client("ec2")
    script_reads(stubber, customer_list(MaxEntries=max_entries), routes=foreign_routes)
    stubber.add_response("describe_network_interfaces", {"NetworkInterfaces": []})
    if not refused:
        assert snapshot_within(client, 50).tables[0].route_table_id == RTB
        return
    with pytest.raises(ValidationError) as caught:
        snapshot_within(client, 50)
    assert caught.value.problems == [
        "route table %s would hold 51 IPv4 routes on the VPN path (46 other static routes + 5 for the prefix list's MaxEntries), "
        "above routes_per_table_quota 50: raise the account's quota (Service Quotas L-93826ACB) and the setting, or free routes" % RTB
    ]
    stubber.assert_no_pending_responses()  # read only: no route call was scripted, none was made


def test_per_route_counts_one_route_per_cidr_of_the_family(stubbed_client):
    client, stubber = stubbed_client("ec2")
    stubber.add_response("describe_route_tables", {"RouteTables": [table_with_routes(3)]})
    stubber.add_response("describe_network_interfaces", {"NetworkInterfaces": [{"NetworkInterfaceId": ENI, "VpcId": VPC, "SourceDestCheck": False}]})
    stubber.add_response("describe_network_interfaces", {"NetworkInterfaces": []})
    destinations = ("198.19.0.0/24", "198.19.1.0/24", "2001:db8:100::/56")
    with pytest.raises(ValidationError) as caught:
        snapshot_within(client, 4, strategy="per_route", destinations=destinations)
    assert [problem.split(" on the VPN path")[0] for problem in caught.value.problems] == ["route table %s would hold 5 IPv4 routes" % RTB]


def test_route_limit_exceeded_names_the_full_table(stubbed_client):
    client, stubber = stubbed_client("ec2")
    stubber.add_client_error("create_route", "RouteLimitExceeded", "The maximum number of routes has been reached.", http_status_code=400)
    action = RouteAction(RTB, None, ACTION_CREATE, target=ENI, destination_prefix_list_id=PL)
    with pytest.raises(AwsApiError) as caught:
        execute_action(client, action)
    message = caught.value.message
    assert message.startswith("EC2 CreateRoute failed: RouteLimitExceeded: route table %s has reached its routes-per-table quota" % RTB)
    assert "counts as its MaxEntries routes" in message and message.endswith("EC2 said: The maximum number of routes has been reached.")
    assert caught.value.code == "RouteLimitExceeded"
