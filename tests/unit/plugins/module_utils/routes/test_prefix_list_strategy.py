"""The prefix_list route strategy on hand-built route tables: model, path, conflicts and plans (no API involved)."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.routes import Route
from ansible_collections.localzones.failover.plugins.module_utils.routes import RouteTable
from ansible_collections.localzones.failover.plugins.module_utils.routes import apply_to_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.routes import describe_table
from ansible_collections.localzones.failover.plugins.module_utils.routes import diff_view
from ansible_collections.localzones.failover.plugins.module_utils.routes import find_conflicts
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from tests.unit.plugins.module_utils.routes.tables import ENI
from tests.unit.plugins.module_utils.routes.tables import FOREIGN_ENI
from tests.unit.plugins.module_utils.routes.tables import OLD_ENI
from tests.unit.plugins.module_utils.routes.tables import ONPREM
from tests.unit.plugins.module_utils.routes.tables import OWNERSHIP
from tests.unit.plugins.module_utils.routes.tables import RTB
from tests.unit.plugins.module_utils.routes.tables import propagated
from tests.unit.plugins.module_utils.routes.tables import static
from tests.unit.plugins.module_utils.routes.tables import table

PL = "pl-0123456789abcdef0"
OTHER_PL = "pl-0fedcba9876543210"
ONPREM_B = "198.19.1.0/24"
DESTINATIONS = (ONPREM, ONPREM_B)
RTB2 = "rtb-0fedcba9876543210"
LISTED = dataclasses.replace(OWNERSHIP, prefix_list_id=PL)


def to_list(target, prefix_list_id=PL, state="active"):
    return Route(prefix_list_id, "CreateRoute", target, state)


def listed_table(*routes, prefix_list_routes=(), rtb=RTB):
    return dataclasses.replace(table(*routes, rtb=rtb), prefix_list_routes=tuple(prefix_list_routes))


def plan(tables, path, ownership=LISTED):
    return plan_routes(tables, DESTINATIONS, path, ownership, "prefix_list")


def calls(planned):
    return [(action.route_table_id, action.action, action.destination) for action in planned.actions]


# --------------------------------------------------------------------------- model


def test_a_prefix_list_route_is_read_apart_from_the_cidr_routes():
    raw = {
        "RouteTableId": RTB, "VpcId": "vpc-01",
        "Routes": [
            {"DestinationCidrBlock": "198.18.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
            {"DestinationPrefixListId": PL, "NetworkInterfaceId": ENI, "Origin": "CreateRoute", "State": "blackhole"},
        ],
    }
    parsed = RouteTable.from_api(raw)
    assert [route.destination for route in parsed.routes] == ["198.18.0.0/16"]
    assert parsed.prefix_list_route(PL) == Route(PL, "CreateRoute", ENI, "blackhole")
    assert parsed.prefix_list_route(OTHER_PL) is None


def test_a_prefix_list_route_is_ours_only_on_the_configured_list_and_to_an_appliance():
    assert LISTED.owns(to_list(ENI)) and LISTED.owns(to_list(OLD_ENI))
    assert not LISTED.owns(to_list(FOREIGN_ENI))
    assert not LISTED.owns(to_list(ENI, OTHER_PL)), "another list is never ours"
    assert not OWNERSHIP.owns(to_list(ENI)), "without a configured list no prefix-list route is ours"


def test_a_route_to_the_list_pointing_elsewhere_is_a_named_conflict():
    (conflict,) = find_conflicts([listed_table(prefix_list_routes=[to_list("tgw-0123456789abcdef0")])], DESTINATIONS, LISTED)
    assert conflict.as_dict() == {"route_table_id": RTB, "destination_prefix_list_id": PL, "target": "tgw-0123456789abcdef0", "state": "active"}
    assert "route to the prefix list %s -> tgw-0123456789abcdef0" % PL in conflict.describe()
    with pytest.raises(RouteConflictError) as excinfo:
        plan([listed_table(prefix_list_routes=[to_list("tgw-0123456789abcdef0")])], "vpn")
    assert PL in excinfo.value.message


def test_a_foreign_static_route_for_a_listed_cidr_still_conflicts_it_outranks_the_list():
    with pytest.raises(RouteConflictError) as excinfo:
        plan([listed_table(static(ONPREM_B, FOREIGN_ENI))], "vpn")
    assert [conflict.destination_cidr for conflict in excinfo.value.conflicts] == [ONPREM_B]


# --------------------------------------------------------------------------- path


def test_the_path_reads_our_prefix_list_route_as_vpn():
    assert path_of([listed_table(propagated(ONPREM), prefix_list_routes=[to_list(ENI)])], DESTINATIONS, LISTED) == "vpn"
    assert path_of([listed_table(propagated(ONPREM), prefix_list_routes=[to_list(ENI)])], DESTINATIONS, OWNERSHIP) == "dx", (
        "per_route does not read prefix-list routes")


def test_one_table_on_the_list_and_one_on_dx_is_mixed():
    tables = [listed_table(prefix_list_routes=[to_list(ENI)]), listed_table(rtb=RTB2)]
    assert path_of(tables, DESTINATIONS, LISTED) == "mixed"


def test_a_table_half_way_from_per_route_is_on_the_vpn():
    assert path_of([listed_table(static(ONPREM, ENI), prefix_list_routes=[to_list(ENI)])], DESTINATIONS, LISTED) == "vpn"


def test_describe_and_diff_show_the_prefix_list_route():
    summary = describe_table(listed_table(prefix_list_routes=[to_list(OLD_ENI)]), DESTINATIONS, LISTED)
    assert [(entry["path"], entry["target"]) for entry in summary["destinations"]] == [("vpn", OLD_ENI)] * 2
    assert diff_view(listed_table(prefix_list_routes=[to_list(ENI)]), DESTINATIONS, LISTED)[ONPREM] == "%s (prefix list %s)" % (ENI, PL)


# --------------------------------------------------------------------------- plans


def test_to_vpn_one_create_per_table_to_the_list():
    planned = plan([listed_table(propagated(ONPREM)), listed_table(rtb=RTB2)], "vpn")
    assert calls(planned) == [(RTB, "create", PL), (RTB2, "create", PL)]
    assert planned.actions[0].as_dict() == {"route_table_id": RTB, "destination_prefix_list_id": PL, "action": "create", "target": ENI}


def test_to_vpn_replaces_our_route_to_a_replaced_appliance_and_leaves_a_correct_one():
    planned = plan([listed_table(prefix_list_routes=[to_list(OLD_ENI)]), listed_table(prefix_list_routes=[to_list(ENI)], rtb=RTB2)], "vpn")
    assert calls(planned) == [(RTB, "replace", PL)]
    assert planned.actions[0].previous_target == OLD_ENI


def test_switching_from_per_route_adds_every_list_route_before_deleting_a_static_one():
    tables = [listed_table(static(ONPREM, ENI), static(ONPREM_B, OLD_ENI)), listed_table(static(ONPREM, ENI), static(ONPREM_B, ENI), rtb=RTB2)]
    planned = plan(tables, "vpn")
    assert calls(planned) == [
        (RTB, "create", PL), (RTB2, "create", PL), (RTB, "delete", ONPREM), (RTB, "delete", ONPREM_B), (RTB2, "delete", ONPREM), (RTB2, "delete", ONPREM_B)]
    # Replay the plan call by call: no table is ever off the VPN for a destination.
    current = {snapshot.route_table_id: snapshot for snapshot in tables}
    for action in planned.actions:
        current[action.route_table_id] = apply_to_snapshot(current[action.route_table_id], [action])
        assert path_of(list(current.values()), DESTINATIONS, LISTED) == "vpn", "off the VPN after %s" % (action.as_dict(),)
    assert all(snapshot.routes == table().routes for snapshot in current.values()), "only the local route and the list route are left"
    assert plan(list(current.values()), "vpn").actions == (), "the switch converges"


def test_to_dx_deletes_our_list_route_and_our_static_routes_only():
    tables = [listed_table(propagated(ONPREM), static(ONPREM_B, ENI), prefix_list_routes=[to_list(ENI), to_list("tgw-0123456789abcdef0", OTHER_PL)])]
    planned = plan(tables, "dx")
    assert calls(planned) == [(RTB, "delete", PL), (RTB, "delete", ONPREM_B)]
    after = apply_to_snapshot(tables[0], planned.actions)
    assert after.prefix_list_routes == (to_list("tgw-0123456789abcdef0", OTHER_PL),), "another list's route is left alone"
    assert any("also routes the prefix list %s" % OTHER_PL in note and "at random" in note for note in planned.notes)
    assert path_of([after], DESTINATIONS, LISTED) == "dx"


def test_per_route_plans_ignore_the_list_and_warn_about_a_leftover_route_to_an_appliance():
    tables = [listed_table(prefix_list_routes=[to_list(ENI)])]
    planned = plan_routes(tables, DESTINATIONS, "dx", OWNERSHIP)
    assert planned.actions == ()
    assert any("prefix list %s -> %s" % (PL, ENI) in note and "per_route never changes it" in note for note in planned.notes)


@pytest.mark.parametrize("strategy, ownership", [("prefix_list", OWNERSHIP), ("per_prefix", LISTED)])
def test_a_strategy_without_its_list_or_unknown_is_refused(strategy, ownership):
    with pytest.raises(ValueError):
        plan_routes([listed_table()], DESTINATIONS, "vpn", ownership, strategy)
