"""The route model: routes as EC2 describes them, and which static routes are ours."""

from __future__ import annotations

import dataclasses

from ansible_collections.localzones.failover.plugins.module_utils.routes import Conflict
from ansible_collections.localzones.failover.plugins.module_utils.routes import Route
from ansible_collections.localzones.failover.plugins.module_utils.routes import find_conflicts
from tests.unit.plugins.module_utils.routes.tables import ENI
from tests.unit.plugins.module_utils.routes.tables import FOREIGN_ENI
from tests.unit.plugins.module_utils.routes.tables import OLD_ENI
from tests.unit.plugins.module_utils.routes.tables import ONPREM
from tests.unit.plugins.module_utils.routes.tables import ONPREM6
from tests.unit.plugins.module_utils.routes.tables import RTB
from tests.unit.plugins.module_utils.routes.tables import OWNERSHIP
from tests.unit.plugins.module_utils.routes.tables import VGW
from tests.unit.plugins.module_utils.routes.tables import propagated
from tests.unit.plugins.module_utils.routes.tables import static
from tests.unit.plugins.module_utils.routes.tables import table


class TestRouteFromApi:
    def test_instance_route_is_owned_by_its_interface(self):
        route = Route.from_api({"DestinationCidrBlock": ONPREM, "InstanceId": "i-0123", "NetworkInterfaceId": ENI, "Origin": "CreateRoute"})
        assert route.target == ENI

    def test_ipv6_destination_is_canonical(self):
        route = Route.from_api({"DestinationIpv6CidrBlock": "2001:DB8:100:0::/56", "GatewayId": VGW, "Origin": "EnableVgwRoutePropagation"})
        assert route.destination == ONPREM6
        assert route.is_propagated

    def test_prefix_list_routes_are_read_with_the_list_as_destination(self):
        route = Route.from_api({"DestinationPrefixListId": "pl-0123", "GatewayId": "vpce-0123", "Origin": "CreateRoute"})
        assert (route.destination, route.target, route.is_prefix_list) == ("pl-0123", "vpce-0123", True)

    def test_a_route_without_destination_is_ignored(self):
        assert Route.from_api({"GatewayId": "vpce-0123"}) is None


class TestOwnership:
    def test_static_routes_to_our_interfaces_are_ours(self):
        assert OWNERSHIP.owns(static(ONPREM, ENI))
        assert OWNERSHIP.owns(static(ONPREM, OLD_ENI)), "a replaced appliance's interface is tagged, so still ours"

    def test_foreign_and_propagated_routes_are_not(self):
        assert not OWNERSHIP.owns(static(ONPREM, FOREIGN_ENI))
        assert not OWNERSHIP.owns(propagated(ONPREM))

    def test_conflicts_are_the_static_routes_that_are_not_ours(self):
        tables = [table(static(ONPREM, OLD_ENI), static(ONPREM6, FOREIGN_ENI, state="blackhole"))]
        assert [conflict.as_dict() for conflict in find_conflicts(tables, [ONPREM, ONPREM6], OWNERSHIP)] == [
            {"route_table_id": tables[0].route_table_id, "destination_cidr": ONPREM6, "target": FOREIGN_ENI, "state": "blackhole",
             "clear_command": "aws ec2 delete-route --route-table-id %s --destination-ipv6-cidr-block %s" % (RTB, ONPREM6)}
        ]

    def test_a_blackholed_route_to_the_configured_interface_is_ours_even_once_it_is_deleted(self):
        gone = dataclasses.replace(OWNERSHIP, appliance_eni_ids=frozenset(), vpn_eni_exists=False)
        assert gone.owns(static(ONPREM, ENI, state="blackhole"))
        assert not find_conflicts([table(static(ONPREM, ENI, state="blackhole"))], [ONPREM], gone)

    def test_a_blackholed_conflict_names_the_command_that_clears_it(self):
        ownership = dataclasses.replace(OWNERSHIP, region="us-east-1")
        tables = [table(static(ONPREM, FOREIGN_ENI, state="blackhole"), static(ONPREM6, "tgw-0123456789abcdef0"))]
        blackholed, live = find_conflicts(tables, [ONPREM, ONPREM6], ownership)
        command = "aws ec2 delete-route --route-table-id %s --destination-cidr-block %s --region us-east-1" % (RTB, ONPREM)
        assert blackholed.clear_command() == command and command in blackholed.describe()
        assert blackholed.as_dict()["clear_command"] == command
        assert live.clear_command() is None and "clear_command" not in live.as_dict(), "a live foreign route is someone's path"
        listed = Conflict(RTB, None, FOREIGN_ENI, "blackhole", destination_prefix_list_id="pl-0123", region="eu-west-1")
        assert listed.clear_command() == "aws ec2 delete-route --route-table-id %s --destination-prefix-list-id pl-0123 --region eu-west-1" % RTB
