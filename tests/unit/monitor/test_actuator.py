# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The actuator: desired/applied bookkeeping, backoff, and single attempts against the EC2 fidelity endpoint.

``Actuator.attempt`` is called directly (no thread) with a fake clock, so each test
controls exactly which read-plan-apply passes happen.
"""

from __future__ import annotations

import dataclasses

import pytest

from lz_failover_monitor import actuator as actuator_module
from lz_failover_monitor.actuator import Actuator
from lz_failover_monitor.actuator import Convergence
from lz_failover_monitor.actuator import backoff_delay
from lz_failover_monitor.aws import ec2_client
from lz_failover_monitor.config import validate_document
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.modules import lz_route_failover_info
from lz_failover_monitor.metrics import Metrics
from harness.aws import VPN_APPLIANCE_TAG
from harness.aws import put_fault
from harness.monitor import route_changing_requests
from harness.monitor import static_routes
from tests.support.fake_clock import FakeClock
from tests.support.module_doubles import RecordingModule
from tests.support.monitor_doubles import RecordingLog
from tests.support.monitor_doubles import sample


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
    actuator = Actuator(config, log, metrics, client_factory=ec2_client, clock=clock.monotonic, rng=lambda: 1.0)
    return actuator, config, clock, log, metrics


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
    # One call at a time, so each failed attempt spends exactly one injected fault.
    config = dataclasses.replace(config, api=dataclasses.replace(config.api, max_parallel_calls=1))
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    # A 5xx, not throttling: a throttled call would be retried within the attempt by the pacer.
    put_fault(ec2_endpoint, "CreateRoute", "InternalError", count=2)
    delays = [actuator.attempt(config, "vpn") for _attempt in range(3)]
    assert delays[:2] == [0.2, 0.4] and delays[2] == 30, "backoff while failing, the reconcile interval once applied"
    assert [fields["code"] for fields in log.named("api_error")] == ["InternalError"] * 2
    assert sample(metrics, "lz_failover_api_errors_total", operation="CreateRoute", code="InternalError") == 2
    assert sample(metrics, "lz_failover_api_requests_total", operation="CreateRoute", code="InternalError") == 2
    assert sample(metrics, "lz_failover_api_requests_total", operation="CreateRoute", code="OK") == 2
    assert actuator.failures == 0 and actuator.last_error is None
    assert len(static_routes(ec2, lz_world.prod_rtb_id)) == 2


@pytest.mark.moto
def test_throttled_route_calls_are_retried_within_the_attempt(setup, ec2, lz_world, ec2_endpoint):
    actuator, config, _clock, log, metrics = setup
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    put_fault(ec2_endpoint, "CreateRoute", "RequestLimitExceeded", count=3)
    assert actuator.attempt(config, "vpn") == 30, "applied in one attempt (about 1 s of the pacer's waits at most)"
    assert not log.named("api_error") and actuator.failures == 0
    assert sample(metrics, "lz_failover_api_requests_total", operation="CreateRoute", code="RequestLimitExceeded") == 3
    assert static_routes(ec2, lz_world.prod_rtb_id) == {cidr: lz_world.vpn_eni_id for cidr in lz_world.onprem_cidrs}


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


@pytest.mark.moto
def test_a_route_to_a_replaced_appliance_is_vpn_to_the_monitor_and_to_lz_route_failover_info(setup, ec2, lz_world):
    """Both read the tables through path_of: the old appliance's interface is still tagged, so its routes are ours."""
    actuator, config, _clock, _log, _metrics = setup
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    actuator.attempt(config, "vpn")
    new_eni = ec2.create_network_interface(
        SubnetId=lz_world.public_subnet_id, TagSpecifications=[{"ResourceType": "network-interface", "Tags": [VPN_APPLIANCE_TAG]}],
    )["NetworkInterface"]["NetworkInterfaceId"]
    replaced = dataclasses.replace(config, vpn_eni_id=new_eni)
    monitor = Actuator(replaced, RecordingLog(), Metrics(), client_factory=ec2_client, clock=FakeClock().monotonic)
    monitor.attempt(replaced, None)
    params = {"route_table_ids": [lz_world.prod_rtb_id], "destination_cidrs": list(lz_world.onprem_cidrs), "vpn_eni_id": new_eni}
    info = RecordingModule(dict(params, probe_route_table_id=lz_world.probe_rtb_id), ec2)
    lz_route_failover_info.run(info)
    assert static_routes(ec2, lz_world.prod_rtb_id) == {cidr: lz_world.vpn_eni_id for cidr in lz_world.onprem_cidrs}, "still the old appliance's routes"
    assert [table["active_path"] for table in info.result["route_tables"]] == [monitor.initial_path] == ["vpn"]
    assert [entry["path"] for entry in info.result["route_tables"][0]["destinations"]] == ["vpn", "vpn"]


@pytest.mark.moto
def test_with_the_prefix_list_strategy_a_failover_is_one_call_per_table(ec2, lz_world, ec2_endpoint):
    onprem = lz_world.onprem_cidrs[0]  # one prefix list holds one address family
    created = ec2.create_managed_prefix_list(PrefixListName="on-prem", AddressFamily="IPv4", MaxEntries=2, Entries=[{"Cidr": onprem}])
    pl_id = created["PrefixList"]["PrefixListId"]
    config = validate_document({
        "region": lz_world.region, "endpoint_url": lz_world.endpoint_url, "route_table_ids": [lz_world.prod_rtb_id],
        "destination_cidrs": [onprem], "vpn_eni_id": lz_world.vpn_eni_id, "route_strategy": "prefix_list", "prefix_list_id": pl_id,
        "probe": {"targets": ["198.19.0.10"]}, "api": {"max_attempts": 1},
    })
    log = RecordingLog()
    actuator = Actuator(config, log, Metrics(), client_factory=ec2_client, clock=FakeClock().monotonic, rng=lambda: 1.0)
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    actuator.attempt(config, "vpn")
    assert route_changing_requests(ec2_endpoint) == {"CreateRoute": 1, "ReplaceRoute": 0, "DeleteRoute": 0}
    assert [fields.get("destination_prefix_list_id") for fields in log.named("route_action")] == [pl_id]
    assert actuator.book.converged and actuator.book.applied == "vpn"

    # The list gains a network nobody listed in destination_cidrs: nothing moves until the two agree again.
    ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, PrefixListName="on-prem", AddEntries=[{"Cidr": "198.19.9.0/24"}])
    actuator.set_desired("dx")
    assert actuator.attempt(config, "dx") == config.reconcile_interval_s
    (invalid,) = log.named("route_tables_invalid")
    assert any("198.19.9.0/24, which destination_cidrs does not list" in problem for problem in invalid["problems"])
    assert route_changing_requests(ec2_endpoint)["DeleteRoute"] == 0


# --------------------------------------------------------------------------- the tables changing under the monitor


def appliance_eni(ec2, world, tagged):
    tags = [{"ResourceType": "network-interface", "Tags": [VPN_APPLIANCE_TAG]}] if tagged else []
    return ec2.create_network_interface(SubnetId=world.public_subnet_id, TagSpecifications=tags)["NetworkInterface"]["NetworkInterfaceId"]


@pytest.mark.moto
def test_after_the_vpn_interface_is_deleted_failback_still_removes_its_routes(setup, ec2, lz_world):
    actuator, config, _clock, log, _metrics = setup
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    actuator.attempt(config, "vpn")
    ec2.delete_network_interface(NetworkInterfaceId=lz_world.vpn_eni_id)

    assert actuator.attempt(config, "vpn") == 30
    (invalid,) = log.named("route_tables_invalid")
    assert "vpn_eni_id %s does not exist" % lz_world.vpn_eni_id in invalid["problems"][0]
    assert any("not found" in fields["message"] for fields in log.named("route_tables_warning"))

    actuator.set_desired("dx")
    assert actuator.attempt(config, "dx") == 30
    assert static_routes(ec2, lz_world.prod_rtb_id) == {}
    assert [fields["outcome"] for fields in log.named("route_action") if fields["action"] == "delete"] == ["done", "done"]
    assert actuator.book.converged and actuator.book.applied == "dx"


@pytest.mark.moto
def test_a_blackholed_route_of_a_former_appliance_is_logged_with_the_command_that_clears_it(setup, ec2, lz_world):
    actuator, config, _clock, log, _metrics = setup
    former = appliance_eni(ec2, lz_world, tagged=True)
    onprem = lz_world.onprem_cidrs[0]
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=onprem, NetworkInterfaceId=former)
    ec2.delete_network_interface(NetworkInterfaceId=former)
    actuator.attempt(config, None)
    actuator.set_desired("dx")
    actuator.attempt(config, "dx")
    command = "aws ec2 delete-route --route-table-id %s --destination-cidr-block %s --region %s" % (lz_world.prod_rtb_id, onprem, lz_world.region)
    (conflict,) = log.named("route_conflict")
    assert conflict["conflicts"][0]["clear_command"] == command and command in conflict["message"]


@pytest.mark.moto
def test_a_plan_stopped_half_way_logs_what_was_not_applied_and_the_next_attempt_converges(setup, ec2, lz_world, ec2_endpoint):
    actuator, config, _clock, log, _metrics = setup
    second = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    config = dataclasses.replace(config, route_table_ids=(lz_world.prod_rtb_id, second), api=dataclasses.replace(config.api, max_parallel_calls=1))
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    put_fault(ec2_endpoint, "CreateRoute", delay_ms=1)  # the first CreateRoute is answered, the second is refused
    put_fault(ec2_endpoint, "CreateRoute", "RouteLimitExceeded")
    before = route_changing_requests(ec2_endpoint)["CreateRoute"]

    assert actuator.attempt(config, "vpn") == pytest.approx(0.2)
    failed = [fields for fields in log.named("route_action") if fields["outcome"] == "failed"]
    assert len(failed) == 1 and failed[0]["code"] == "RouteLimitExceeded" and failed[0]["applied"] == 1
    assert [(action["route_table_id"], action["destination_cidr"]) for action in failed[0]["not_applied"]] == [
        (second, cidr) for cidr in lz_world.onprem_cidrs]
    assert not actuator.book.converged

    assert actuator.attempt(config, "vpn") == 30
    assert route_changing_requests(ec2_endpoint)["CreateRoute"] - before == 2 + 3, "the next attempt makes only the 3 missing calls"
    assert actuator.book.converged


@pytest.mark.moto
def test_a_route_changed_after_the_read_is_skipped_logged_and_not_counted_as_converged(setup, ec2, lz_world, monkeypatch):
    actuator, config, _clock, log, _metrics = setup
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    actuator.attempt(config, "vpn")
    foreign = appliance_eni(ec2, lz_world, tagged=False)
    onprem = lz_world.onprem_cidrs[0]

    def load_then_change(*args, **kwargs):
        """The actuator's read, then someone else's change before its calls."""
        snapshot = load_snapshot(*args, **kwargs)
        ec2.replace_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=onprem, NetworkInterfaceId=foreign)
        return snapshot

    monkeypatch.setattr(actuator_module, "load_snapshot", load_then_change)
    actuator.set_desired("dx")
    assert actuator.attempt(config, "dx") == 30
    skipped = [fields for fields in log.named("route_action") if fields["outcome"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["destination_cidr"] == onprem and foreign in skipped[0]["reason"]
    assert [level for level, event, fields in log.records if event == "route_action" and fields["outcome"] == "skipped"] == ["warning"]
    assert not actuator.book.converged and static_routes(ec2, lz_world.prod_rtb_id) == {onprem: foreign}
