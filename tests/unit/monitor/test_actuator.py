# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The actuator: desired/applied bookkeeping, backoff, and single attempts against the EC2 fidelity endpoint.

``Actuator.attempt`` is called directly (no thread) with a fake clock, so each test
controls exactly which read-plan-apply passes happen.
"""

from __future__ import annotations

import pytest

from lz_failover_monitor.actuator import Actuator
from lz_failover_monitor.actuator import Convergence
from lz_failover_monitor.actuator import backoff_delay
from lz_failover_monitor.actuator import learned_path
from lz_failover_monitor.aws import ec2_client
from lz_failover_monitor.config import validate_document
from ansible_collections.localzones.failover.plugins.module_utils.ec2 import Snapshot
from ansible_collections.localzones.failover.plugins.module_utils.routes import Ownership
from ansible_collections.localzones.failover.plugins.module_utils.routes import Route
from ansible_collections.localzones.failover.plugins.module_utils.routes import RouteTable
from lz_failover_monitor.metrics import Metrics
from harness.aws import put_fault
from harness.monitor import route_changing_requests
from harness.monitor import static_routes

ENI = "eni-0123456789abcdef0"
V4, V6 = "198.19.0.0/24", "2001:db8:100::/56"


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


class RecordingLog:
    """Collects events as (level, name, fields)."""

    def __init__(self):
        self.records = []

    def _add(self, level, name, fields):
        self.records.append((level, name, fields))

    def debug(self, name, **fields):
        self._add("debug", name, fields)

    def info(self, name, **fields):
        self._add("info", name, fields)

    def warning(self, name, **fields):
        self._add("warning", name, fields)

    def error(self, name, **fields):
        self._add("error", name, fields)

    def exception(self, name, **fields):
        self._add("error", name, fields)

    def named(self, name):
        return [fields for _level, event, fields in self.records if event == name]


# --------------------------------------------------------------------------- pure parts


def test_convergence_tracks_decisions_and_measures_the_first_settle():
    book = Convergence()
    assert not book.converged
    book.want("dx", at=10.0)
    book.observe("dx")
    assert book.converged and book.trigger("dx") == "decision"
    assert book.settle("dx", at=10.25) == pytest.approx(0.25)
    assert book.settle("dx", at=40.0) is None, "a reconcile of a settled decision is not measured again"
    assert book.trigger("dx") == "drift", "actions needed after the decision settled mean drift"

    book.want("vpn", at=50.0)
    assert not book.converged and book.trigger("vpn") == "decision"
    assert book.settle("dx", at=50.1) is None, "settling the older path does not settle the new decision"
    assert not book.converged
    assert book.settle("vpn", at=50.6) == pytest.approx(0.6) and book.converged


def test_wanting_the_same_path_again_keeps_its_decision_time():
    book = Convergence()
    book.want("vpn", at=1.0)
    book.want("vpn", at=5.0)
    assert book.settle("vpn", at=6.0) == pytest.approx(5.0)


def test_backoff_doubles_up_to_the_cap_with_jitter():
    assert [backoff_delay(failures, cap=10, rng=lambda: 1.0) for failures in range(1, 9)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10, 10]
    assert backoff_delay(3, cap=10, rng=lambda: 0.0) == pytest.approx(0.4), "jitter keeps at least half the delay"
    assert backoff_delay(50, cap=1, rng=lambda: 0.5) == pytest.approx(0.75)


def table(*routes):
    return RouteTable("rtb-0123456789abcdef0", "vpc-1", routes=tuple(routes))


def snapshot_of(*tables):
    return Snapshot(tables=tables, destinations=(V4, V6), ownership=Ownership(vpn_eni_id=ENI, appliance_eni_ids=frozenset({"eni-0aaaaaaaaaaaaaaaa"})))


def static(destination, target):
    return Route(destination, "CreateRoute", target)


def propagated(destination):
    return Route(destination, "EnableVgwRoutePropagation", "vgw-1")


@pytest.mark.parametrize(
    "routes, expected",
    [
        ((propagated(V4), propagated(V6)), "dx"),
        ((static(V4, ENI), static(V6, ENI)), "vpn"),
        ((static(V4, "eni-0aaaaaaaaaaaaaaaa"), static(V6, ENI)), "vpn"),  # a tagged appliance's route is ours too
        ((static(V4, ENI), propagated(V6)), "mixed"),
        ((static(V4, "tgw-1"), static(V6, ENI)), "vpn"),  # a foreign route says nothing about our path
        ((static(V4, "tgw-1"),), "dx"),
        ((static(V4, "tgw-1"), static(V6, "tgw-1")), "dx"),
    ],
)
def test_learned_path_reads_only_routes_we_own(routes, expected):
    assert learned_path(snapshot_of(table(*routes))) == expected


def test_learned_path_over_several_tables():
    assert learned_path(snapshot_of(table(static(V4, ENI), static(V6, ENI)), table())) == "mixed"


# --------------------------------------------------------------------------- attempts against the endpoint


@pytest.fixture
def setup(lz_world):
    config = validate_document({
        "region": lz_world.region,
        "endpoint_url": lz_world.endpoint_url,
        "route_table_ids": [lz_world.prod_rtb_id],
        "destination_cidrs": list(lz_world.onprem_cidrs),
        "vpn_eni_id": lz_world.vpn_eni_id,
        "probe_route_table_id": lz_world.probe_rtb_id,
        "probe": {"targets": ["198.19.0.10"]},
        "reconcile_interval_s": 30,
        "api": {"max_attempts": 1, "retry_backoff_max_s": 10},
    })
    clock, log, metrics = FakeClock(), RecordingLog(), Metrics()
    actuator = Actuator(config, log, metrics, client_factory=ec2_client, clock=clock, rng=lambda: 1.0)
    return actuator, config, clock, log, metrics


def sample(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.mark.moto
def test_first_read_learns_the_path_without_changing_anything(setup, ec2_endpoint):
    actuator, config, _clock, log, _metrics = setup
    assert actuator.attempt(config, None) == 30
    assert actuator.initial_path == "dx" and actuator.book.applied == "dx"
    assert route_changing_requests(ec2_endpoint)["CreateRoute"] == 0
    assert not log.named("route_action")


@pytest.mark.moto
def test_a_decision_is_applied_measured_and_then_drift_is_repaired(setup, ec2, lz_world):
    actuator, config, clock, log, metrics = setup
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    clock.now += 0.5
    actuator.attempt(config, "vpn")
    assert static_routes(ec2, lz_world.prod_rtb_id) == {cidr: lz_world.vpn_eni_id for cidr in lz_world.onprem_cidrs}
    assert [fields["outcome"] for fields in log.named("route_action")] == ["done", "done"]
    assert log.named("routes_converged")[-1]["since_decision_ms"] == 500.0
    assert actuator.book.converged and sample(metrics, "lz_failover_routes_converged") == 1
    assert sample(metrics, "lz_failover_active_path", path="vpn") == 1 and sample(metrics, "lz_failover_desired_path", path="vpn") == 1

    ec2.delete_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=lz_world.onprem_cidrs[0])
    actuator.attempt(config, "vpn")
    assert len(log.named("drift_detected")) == 1 and sample(metrics, "lz_failover_drift_repairs_total") == 1
    assert static_routes(ec2, lz_world.prod_rtb_id)[lz_world.onprem_cidrs[0]] == lz_world.vpn_eni_id


@pytest.mark.moto
def test_api_errors_back_off_and_count_until_a_pass_succeeds(setup, ec2, lz_world, ec2_endpoint):
    actuator, config, _clock, log, metrics = setup
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    # A 5xx, not throttling: botocore's adaptive mode would also slow the client down (covered by the daemon test).
    put_fault(ec2_endpoint, "CreateRoute", "InternalError", count=2)
    delays = [actuator.attempt(config, "vpn") for _attempt in range(3)]
    assert delays[:2] == [0.2, 0.4] and delays[2] == 30, "backoff while failing, the reconcile interval once applied"
    assert [fields["code"] for fields in log.named("api_error")] == ["InternalError"] * 2
    assert sample(metrics, "lz_failover_api_errors_total", operation="create_route", code="InternalError") == 2
    assert sample(metrics, "lz_failover_api_requests_total", operation="CreateRoute", code="InternalError") == 2
    assert sample(metrics, "lz_failover_api_requests_total", operation="CreateRoute", code="OK") == 2
    assert actuator.failures == 0 and actuator.last_error is None
    assert len(static_routes(ec2, lz_world.prod_rtb_id)) == 2


@pytest.mark.moto
def test_a_foreign_route_is_reported_and_left_alone(setup, ec2, lz_world, ec2_endpoint):
    actuator, config, _clock, log, metrics = setup
    foreign = ec2.create_network_interface(SubnetId=lz_world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=lz_world.onprem_cidrs[0], NetworkInterfaceId=foreign)
    before = route_changing_requests(ec2_endpoint)
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    assert actuator.attempt(config, "vpn") == 30, "retried at the reconcile interval"
    conflict = log.named("route_conflict")[0]
    assert conflict["conflicts"][0]["target"] == foreign and conflict["desired_path"] == "vpn"
    assert sample(metrics, "lz_failover_route_conflicts_total") == 1 and sample(metrics, "lz_failover_foreign_routes") == 1
    assert route_changing_requests(ec2_endpoint) == before
    assert static_routes(ec2, lz_world.prod_rtb_id) == {lz_world.onprem_cidrs[0]: foreign}


@pytest.mark.moto
def test_a_missing_route_table_is_reported_and_retried_later(setup, lz_world):
    actuator, config, _clock, log, _metrics = setup
    config = validate_document(dict(
        region=config.region, endpoint_url=config.endpoint_url, route_table_ids=["rtb-00000000000000000"], destination_cidrs=list(lz_world.onprem_cidrs),
        vpn_eni_id=config.vpn_eni_id, probe={"targets": ["198.19.0.10"]},
    ))
    assert actuator.attempt(config, None) == 30
    assert "route table(s) rtb-00000000000000000 not found" in log.named("route_tables_invalid")[0]["problems"][0]
    assert actuator.initial_path is None


@pytest.mark.moto
def test_an_unexpected_error_is_logged_and_retried_never_raised(setup):
    actuator, config, _clock, log, _metrics = setup

    def broken_factory(_config, _metrics):
        raise RuntimeError("no client today")

    actuator._client_factory = broken_factory  # pylint: disable=protected-access
    assert actuator.attempt(config, None) == pytest.approx(0.2)
    assert log.named("actuator_error") and actuator.failures == 1
