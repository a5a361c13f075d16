"""Which path a table is on and the per-table summary the modules return."""

from __future__ import annotations

from ansible_collections.localzones.failover.plugins.module_utils.routes import active_path
from ansible_collections.localzones.failover.plugins.module_utils.routes import describe_table
from tests.unit.plugins.module_utils.routes.tables import ENI
from tests.unit.plugins.module_utils.routes.tables import ONPREM
from tests.unit.plugins.module_utils.routes.tables import ONPREM6
from tests.unit.plugins.module_utils.routes.tables import VGW
from tests.unit.plugins.module_utils.routes.tables import propagated
from tests.unit.plugins.module_utils.routes.tables import static
from tests.unit.plugins.module_utils.routes.tables import table


class TestPaths:
    def test_active_path_per_table(self):
        assert active_path(table(propagated(ONPREM)), [ONPREM], ENI) == "dx"
        assert active_path(table(static(ONPREM, ENI)), [ONPREM], ENI) == "vpn"
        assert active_path(table(static(ONPREM, ENI)), [ONPREM, ONPREM6], ENI) == "mixed"

    def test_describe_table_reports_targets(self):
        summary = describe_table(table(propagated(ONPREM), static(ONPREM6, ENI)), [ONPREM, ONPREM6], ENI)
        assert summary["active_path"] == "mixed"
        assert summary["destinations"] == [
            {"destination_cidr": ONPREM, "path": "dx", "target": VGW, "propagated_dx_route": True},
            {"destination_cidr": ONPREM6, "path": "vpn", "target": ENI, "propagated_dx_route": False},
        ]
