"""Which path the tables are on (``path_of``) and the per-table summary the modules return."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.routes import describe_table
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
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

BOTH = (ONPREM, ONPREM6)


def test_path_of_a_table():
    assert path_of([table(propagated(ONPREM))], [ONPREM], OWNERSHIP) == "dx"
    assert path_of([table(static(ONPREM, ENI))], [ONPREM], OWNERSHIP) == "vpn"
    assert path_of([table(static(ONPREM, ENI))], BOTH, OWNERSHIP) == "mixed"


@pytest.mark.parametrize(
    "routes, expected",
    [
        ((propagated(ONPREM), propagated(ONPREM6)), "dx"),
        ((static(ONPREM, ENI), static(ONPREM6, ENI)), "vpn"),
        ((static(ONPREM, OLD_ENI), static(ONPREM6, ENI)), "vpn"),  # a tagged appliance's route is ours too
        ((static(ONPREM, ENI), propagated(ONPREM6)), "mixed"),
        ((static(ONPREM, "tgw-1"), static(ONPREM6, ENI)), "vpn"),  # a foreign route says nothing about our path
        ((static(ONPREM, "tgw-1"),), "dx"),
        ((static(ONPREM, "tgw-1"), static(ONPREM6, "tgw-1")), "dx"),
    ],
)
def test_path_of_reads_only_routes_we_own(routes, expected):
    assert path_of([table(*routes)], BOTH, OWNERSHIP) == expected


def test_path_of_several_tables():
    assert path_of([table(static(ONPREM, ENI), static(ONPREM6, ENI)), table()], BOTH, OWNERSHIP) == "mixed"


class TestDescribeTable:
    def test_reports_paths_and_targets(self):
        summary = describe_table(table(propagated(ONPREM), static(ONPREM6, ENI)), BOTH, OWNERSHIP)
        assert summary["active_path"] == "mixed"
        assert summary["destinations"] == [
            {"destination_cidr": ONPREM, "path": "dx", "target": VGW, "propagated_dx_route": True},
            {"destination_cidr": ONPREM6, "path": "vpn", "target": ENI, "propagated_dx_route": False},
        ]

    def test_a_route_to_a_replaced_appliance_is_on_the_vpn(self):
        summary = describe_table(table(static(ONPREM, OLD_ENI), static(ONPREM6, ENI)), BOTH, OWNERSHIP)
        assert summary["active_path"] == "vpn"
        assert [(entry["path"], entry["target"]) for entry in summary["destinations"]] == [("vpn", OLD_ENI), ("vpn", ENI)]

    def test_a_foreign_route_is_shown_by_its_target_and_left_out_of_the_table_path(self):
        summary = describe_table(table(static(ONPREM, FOREIGN_ENI), propagated(ONPREM6)), BOTH, OWNERSHIP)
        assert summary["active_path"] == "dx"
        assert [(entry["path"], entry["target"]) for entry in summary["destinations"]] == [(FOREIGN_ENI, FOREIGN_ENI), ("dx", VGW)]
