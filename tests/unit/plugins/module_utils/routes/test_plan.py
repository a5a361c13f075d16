"""Route planning on hand-built route table snapshots (no API involved)."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import apply_to_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from tests.unit.plugins.module_utils.routes.tables import ENI
from tests.unit.plugins.module_utils.routes.tables import FOREIGN_ENI
from tests.unit.plugins.module_utils.routes.tables import OLD_ENI
from tests.unit.plugins.module_utils.routes.tables import ONPREM
from tests.unit.plugins.module_utils.routes.tables import ONPREM6
from tests.unit.plugins.module_utils.routes.tables import OWNERSHIP
from tests.unit.plugins.module_utils.routes.tables import VGW
from tests.unit.plugins.module_utils.routes.tables import propagated
from tests.unit.plugins.module_utils.routes.tables import static
from tests.unit.plugins.module_utils.routes.tables import table


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


class TestDeletedInterface:
    """vpn_eni_id no longer exists (the appliance was deleted while on the VPN): back to DX only."""

    GONE = dataclasses.replace(OWNERSHIP, vpn_eni_exists=False, region="us-east-1")

    def test_failback_deletes_the_blackholed_routes_to_it(self):
        plan = plan_routes([table(static(ONPREM, ENI, state="blackhole"), propagated(ONPREM))], [ONPREM], "dx", self.GONE)
        assert actions_of(plan) == [{"route_table_id": "rtb-0123456789abcdef0", "destination_cidr": ONPREM, "action": "delete", "previous_target": ENI}]

    def test_failover_to_it_is_refused_clearly(self):
        with pytest.raises(ValidationError, match="vpn_eni_id %s does not exist in us-east-1: refusing to fail over to the VPN" % ENI):
            plan_routes([table(propagated(ONPREM))], [ONPREM], "vpn", self.GONE)


class TestApplyToSnapshot:
    def test_snapshot_after_plan_shows_the_new_path(self):
        before = table(propagated(ONPREM))
        plan = plan_routes([before], [ONPREM], "vpn", OWNERSHIP)
        after = apply_to_snapshot(before, plan.actions)
        assert path_of([after], [ONPREM], OWNERSHIP) == "vpn"
        back = apply_to_snapshot(after, plan_routes([after], [ONPREM], "dx", OWNERSHIP).actions)
        assert path_of([back], [ONPREM], OWNERSHIP) == "dx"
        assert back.propagated_routes(ONPREM), "propagated route must survive a failback"
