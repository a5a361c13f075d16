"""The managed route inputs rule (validation.validate_route_inputs), checked before any read."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.validation import probe_table_positions
from ansible_collections.localzones.failover.plugins.module_utils.validation import route_strategy_problems
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


class TestRouteStrategy:
    PL = "pl-0123456789abcdef0"

    @pytest.mark.parametrize("strategy, prefix_list_id, expected", [
        ("per_route", None, []),
        ("prefix_list", PL, []),
        ("per_prefix", None, ["route_strategy: 'per_prefix' is not a route strategy (expected one of per_route, prefix_list)"]),
        ("prefix_list", None, ["prefix_list_id: route_strategy prefix_list needs"]),
        ("prefix_list", "pl-xyz", ["prefix_list_id: 'pl-xyz' is not a valid prefix list ID (expected the form pl-0123456789abcdef0)"]),
        ("per_route", PL, ["prefix_list_id: %s is given but route_strategy is per_route" % PL]),
    ])
    def test_each_strategy_goes_with_its_prefix_list_setting(self, strategy, prefix_list_id, expected):
        problems = route_strategy_problems(strategy, prefix_list_id)
        assert len(problems) == len(expected)
        assert all(problem.startswith(start) for problem, start in zip(problems, expected))

    def test_a_strategy_problem_is_listed_with_the_other_input_problems(self):
        with pytest.raises(ValidationError) as caught:
            validate_route_inputs(["rtb-xyz"], [ONPREM], ENI, route_strategy="prefix_list")
        assert len(caught.value.problems) == 2
        assert any(problem.startswith("prefix_list_id: ") for problem in caught.value.problems)
