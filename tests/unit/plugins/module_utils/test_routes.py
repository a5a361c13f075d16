"""Route planning on hand-built route table snapshots (no API involved)."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import Ownership
from ansible_collections.localzones.failover.plugins.module_utils.routes import Route
from ansible_collections.localzones.failover.plugins.module_utils.routes import RouteTable
from ansible_collections.localzones.failover.plugins.module_utils.routes import active_path
from ansible_collections.localzones.failover.plugins.module_utils.routes import apply_to_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.routes import describe_table
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from ansible_collections.localzones.failover.plugins.module_utils.validation import validate_route_inputs

ENI = "eni-0123456789abcdef0"
OLD_ENI = "eni-0aaaaaaaaaaaaaaaa"
FOREIGN_ENI = "eni-0bbbbbbbbbbbbbbbb"
VGW = "vgw-0123456789abcdef0"
ONPREM = "198.19.0.0/24"
ONPREM6 = "2001:db8:100::/56"


def table(*routes, rtb="rtb-0123456789abcdef0", vgws=(VGW,)):
    local = Route("198.18.0.0/16", "CreateRouteTable", "local")
    return RouteTable(route_table_id=rtb, vpc_id="vpc-01", routes=(local,) + routes, propagating_vgws=vgws)


def static(destination, target, state="active"):
    return Route(destination, "CreateRoute", target, state)


def propagated(destination):
    return Route(destination, "EnableVgwRoutePropagation", VGW)


OWNERSHIP = Ownership(vpn_eni_id=ENI, appliance_eni_ids=frozenset({ENI, OLD_ENI}))


def actions_of(plan):
    return [action.as_dict() for action in plan.actions]


class TestPlanVpn:
    def test_creates_static_route_over_propagated_one(self):
        plan = plan_routes([table(propagated(ONPREM))], [ONPREM], "vpn", OWNERSHIP)
        assert actions_of(plan) == [{"route_table_id": "rtb-0123456789abcdef0", "destination_cidr": ONPREM, "action": "create", "target": ENI}]

    def test_creates_when_dx_route_is_missing(self):
        plan = plan_routes([table()], [ONPREM, ONPREM6], "vpn", OWNERSHIP)
        assert [(a.destination_cidr, a.action) for a in plan.actions] == [(ONPREM, "create"), (ONPREM6, "create")]

    def test_nothing_when_already_on_vpn(self):
        plan = plan_routes([table(propagated(ONPREM), static(ONPREM, ENI))], [ONPREM], "vpn", OWNERSHIP)
        assert plan.actions == ()
        assert not plan.changed

    def test_replaces_route_of_replaced_appliance(self):
        plan = plan_routes([table(static(ONPREM, OLD_ENI))], [ONPREM], "vpn", OWNERSHIP)
        assert actions_of(plan) == [
            {"route_table_id": "rtb-0123456789abcdef0", "destination_cidr": ONPREM, "action": "replace", "target": ENI, "previous_target": OLD_ENI}
        ]

    @pytest.mark.parametrize("target", ["tgw-0123456789abcdef0", "nat-0123456789abcdef0", FOREIGN_ENI, "igw-0123456789abcdef0", VGW])
    def test_foreign_static_route_is_a_conflict(self, target):
        with pytest.raises(RouteConflictError) as caught:
            plan_routes([table(static(ONPREM, target))], [ONPREM], "vpn", OWNERSHIP)
        assert target in caught.value.message
        assert "rtb-0123456789abcdef0" in caught.value.message
        assert caught.value.conflicts[0].destination_cidr == ONPREM

    def test_conflict_in_one_table_refuses_the_whole_plan(self):
        clean = table(propagated(ONPREM), rtb="rtb-11111111")
        dirty = table(static(ONPREM, "tgw-0123456789abcdef0"), rtb="rtb-22222222")
        with pytest.raises(RouteConflictError) as caught:
            plan_routes([clean, dirty], [ONPREM], "vpn", OWNERSHIP)
        assert [c.route_table_id for c in caught.value.conflicts] == ["rtb-22222222"]

    def test_blackholed_foreign_route_explains_itself(self):
        with pytest.raises(RouteConflictError) as caught:
            plan_routes([table(static(ONPREM, FOREIGN_ENI, state="blackhole"))], [ONPREM], "vpn", OWNERSHIP)
        assert "blackhole" in caught.value.message

    def test_more_specific_propagated_route_is_noted(self):
        plan = plan_routes([table(propagated("198.19.0.0/25"))], [ONPREM], "vpn", OWNERSHIP)
        assert any("198.19.0.0/25" in note and "stays on DX" in note for note in plan.notes)


class TestPlanDx:
    def test_deletes_owned_static_route(self):
        plan = plan_routes([table(propagated(ONPREM), static(ONPREM, ENI))], [ONPREM], "dx", OWNERSHIP)
        assert actions_of(plan) == [{"route_table_id": "rtb-0123456789abcdef0", "destination_cidr": ONPREM, "action": "delete", "previous_target": ENI}]

    def test_deletes_route_of_replaced_appliance(self):
        plan = plan_routes([table(static(ONPREM, OLD_ENI))], [ONPREM], "dx", OWNERSHIP)
        assert [a.action for a in plan.actions] == ["delete"]

    def test_never_touches_propagated_routes(self):
        plan = plan_routes([table(propagated(ONPREM), propagated(ONPREM6))], [ONPREM, ONPREM6], "dx", OWNERSHIP)
        assert plan.actions == ()

    def test_foreign_static_route_is_a_conflict(self):
        with pytest.raises(RouteConflictError):
            plan_routes([table(propagated(ONPREM), static(ONPREM, FOREIGN_ENI))], [ONPREM], "dx", OWNERSHIP)

    def test_missing_dx_route_is_noted(self):
        plan = plan_routes([table(static(ONPREM, ENI))], [ONPREM], "dx", OWNERSHIP)
        assert any("no propagated DX route" in note for note in plan.notes)

    def test_table_without_propagation_is_noted(self):
        plan = plan_routes([table(vgws=())], [ONPREM], "dx", OWNERSHIP)
        assert any("no virtual private gateway route propagation" in note for note in plan.notes)


class TestPaths:
    def test_active_path_per_table(self):
        assert active_path(table(propagated(ONPREM)), [ONPREM], ENI) == "dx"
        assert active_path(table(static(ONPREM, ENI)), [ONPREM], ENI) == "vpn"
        assert active_path(table(static(ONPREM, ENI)), [ONPREM, ONPREM6], ENI) == "mixed"

    def test_snapshot_after_plan_shows_the_new_path(self):
        before = table(propagated(ONPREM))
        plan = plan_routes([before], [ONPREM], "vpn", OWNERSHIP)
        after = apply_to_snapshot(before, plan.actions)
        assert active_path(after, [ONPREM], ENI) == "vpn"
        back = apply_to_snapshot(after, plan_routes([after], [ONPREM], "dx", OWNERSHIP).actions)
        assert active_path(back, [ONPREM], ENI) == "dx"
        assert back.propagated_routes(ONPREM), "propagated route must survive a failback"

    def test_describe_table_reports_targets(self):
        summary = describe_table(table(propagated(ONPREM), static(ONPREM6, ENI)), [ONPREM, ONPREM6], ENI)
        assert summary["active_path"] == "mixed"
        assert summary["destinations"] == [
            {"destination_cidr": ONPREM, "path": "dx", "target": VGW, "propagated_dx_route": True},
            {"destination_cidr": ONPREM6, "path": "vpn", "target": ENI, "propagated_dx_route": False},
        ]


class TestRouteFromApi:
    def test_instance_route_is_owned_by_its_interface(self):
        route = Route.from_api({"DestinationCidrBlock": ONPREM, "InstanceId": "i-0123", "NetworkInterfaceId": ENI, "Origin": "CreateRoute"})
        assert route.target == ENI

    def test_ipv6_destination_is_canonical(self):
        route = Route.from_api({"DestinationIpv6CidrBlock": "2001:DB8:100:0::/56", "GatewayId": VGW, "Origin": "EnableVgwRoutePropagation"})
        assert route.destination == ONPREM6
        assert route.is_propagated

    def test_prefix_list_routes_are_ignored(self):
        assert Route.from_api({"DestinationPrefixListId": "pl-0123", "GatewayId": "vpce-0123"}) is None


class TestValidateInputs:
    def test_collects_every_problem(self):
        with pytest.raises(ValidationError) as caught:
            validate_route_inputs(["rtb-xyz", "rtb-12345678"], ["198.19.0.1/24", "nonsense"], "eni-1", "rtb-12345678")
        problems = caught.value.problems
        assert any("rtb-xyz" in p for p in problems)
        assert any("host bits set; did you mean 198.19.0.0/24" in p for p in problems)
        assert any("'nonsense' is not a CIDR" in p for p in problems)
        assert any("vpn_eni_id" in p for p in problems)
        assert any("probe subnet's route table" in p for p in problems)
        assert len(problems) == 5

    def test_normalizes_and_deduplicates(self):
        tables, cidrs = validate_route_inputs(["rtb-12345678", "rtb-12345678"], [ONPREM, "2001:DB8:100::/56", ONPREM], ENI)
        assert tables == ["rtb-12345678"]
        assert cidrs == [ONPREM, ONPREM6]
