"""The managed route inputs rule (validation.validate_route_inputs), checked before any read."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.validation import probe_table_positions
from ansible_collections.localzones.failover.plugins.module_utils.validation import validate_route_inputs

ENI = "eni-0123456789abcdef0"
ONPREM = "198.19.0.0/24"
ONPREM6 = "2001:db8:100::/56"


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


def test_probe_table_positions_are_every_place_the_managed_list_names_it():
    assert probe_table_positions(["rtb-12345678", "rtb-87654321", "rtb-12345678"], "rtb-12345678") == [0, 2]
    assert probe_table_positions(["rtb-87654321"], "rtb-12345678") == []
    assert probe_table_positions(None, "rtb-12345678") == []
