# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitors in pairs: the coordinator's lease on the endpoint's DynamoDB, the actuator's guard, the settings.

Coordinators are driven round by round (``tick``, no thread) with fake clocks, one per
monitor, whose wall clocks differ by the configured skew; the DynamoDB calls are real
calls to the local endpoint.
"""

from __future__ import annotations

import socket

import boto3
import botocore.config
import pytest

from lz_failover_monitor.actuator import Actuator
from lz_failover_monitor.aws import dynamodb_client
from lz_failover_monitor.aws import ec2_client
from lz_failover_monitor.config import validate_document
from lz_failover_monitor.coordination import Coordinator
from lz_failover_monitor.metrics import Metrics
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import Pin
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from harness.monitor import route_changing_requests
from harness.monitor import static_routes
from tests.support.coordination_table import create_coordination_table
from tests.support.fake_clock import FakeClock
from tests.support.monitor_configs import document
from tests.support.monitor_doubles import DOWN
from tests.support.monitor_doubles import UP
from tests.support.monitor_doubles import Harness
from tests.support.monitor_doubles import RecordingLog
from tests.support.monitor_doubles import sample
from tests.unit.plugins.module_utils.aws.test_coordination_endpoint import TABLE

WALL = 1_800_000_000.0
STEP_S = 0.05


def patient_dynamodb_client(config, _metrics):
    """The daemon's client, with a long read timeout: on a busy test machine moto may answer slowly, and the fake clocks stand still meanwhile."""
    client = dynamodb_client(config, _metrics)
    return boto3.client("dynamodb", region_name=config.coordination.region, endpoint_url=client.meta.endpoint_url,
                        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=60))


# --------------------------------------------------------------------------- settings


def test_without_a_table_there_is_no_coordination_and_the_summary_is_unchanged():
    config = validate_document(document())
    assert not config.coordination.enabled
    assert not any("coordination" in line for line in config.summary())


def test_coordination_defaults_come_from_the_daemons_own_settings():
    config = validate_document(document(endpoint_url="http://127.0.0.1:5000", cloudwatch={"failover_group": "lz-a"}, coordination={"table": TABLE}))
    settings = config.coordination
    assert (settings.failover_group, settings.monitor_id, settings.region, settings.endpoint_url) == (
        "lz-a", socket.gethostname(), "us-east-1", "http://127.0.0.1:5000",
    )
    assert (settings.lease_s, settings.renew_interval_s, settings.max_clock_skew_s) == (8, 1, 1)
    assert any(line.startswith("coordination: lease in DynamoDB table %s, group lz-a" % TABLE) for line in config.summary())


def test_lease_settings_that_do_not_relate_well_are_refused_with_their_key_paths():
    with pytest.raises(ValidationError) as excinfo:
        validate_document(document(coordination={"table": "t!", "lease_s": 4, "renew_interval_s": 2, "max_clock_skew_s": -1}))
    problems = excinfo.value.problems
    assert any(problem.startswith("coordination.table: ") for problem in problems)
    assert "coordination.max_clock_skew_s: must be >= 0, got -1" in problems
    with pytest.raises(ValidationError) as excinfo:
        validate_document(document(coordination={"table": TABLE, "lease_s": 5}))
    assert [problem.split(":")[0] for problem in excinfo.value.problems] == ["coordination.lease_s"]
    slow_connect = {"connect_timeout_s": 10}
    assert validate_document(document(api=slow_connect)).api.connect_timeout_s == 10, "without a table the lease's rules do not apply"
    with pytest.raises(ValidationError):
        validate_document(document(api=slow_connect, coordination={"table": TABLE}))


# --------------------------------------------------------------------------- two coordinators on the endpoint


class Monitor:
    """One monitor's coordinator with its own fake clock (wall clock ``skew_s`` ahead of real time)."""

    def __init__(self, endpoint_url, monitor_id, skew_s=0.0, start=0.0, **coordination):
        self.clock = FakeClock(start=start, wall_offset=WALL - start + skew_s)
        self.config = validate_document(document(endpoint_url=endpoint_url, coordination=dict({"table": TABLE, "monitor_id": monitor_id}, **coordination)))
        self.log, self.metrics, self.woken = RecordingLog(), Metrics(), []
        self.coordinator = Coordinator(self.config, self.log, self.metrics, client_factory=patient_dynamodb_client, clock=self.clock.monotonic,
                                       wall=self.clock.time, on_acquired=lambda taken_from: self.woken.append(self.clock.now))


@pytest.fixture
def table(ec2, ec2_endpoint):  # pylint: disable=unused-argument
    """The coordination table on a freshly reset endpoint (``ec2`` resets it)."""
    create_coordination_table(patient_dynamodb_client(validate_document(document(endpoint_url=ec2_endpoint, coordination={"table": TABLE})), None), TABLE)
    return ec2_endpoint


def run(monitors, seconds, ticking, writers_seen):
    """Advance every clock in STEP_S steps for ``seconds``; the monitors in ``ticking`` tick every renew interval.

    At every step, who reports is_writer() is recorded: never two at once.
    """
    for _step in range(int(round(seconds / STEP_S))):
        for monitor in monitors:
            monitor.clock.advance(STEP_S)
        for monitor in ticking:
            rounds = monitor.clock.now / monitor.config.coordination.renew_interval_s
            if abs(rounds - round(rounds)) < 1e-6:
                monitor.coordinator.tick()
        writers = [monitor.coordinator.monitor_id for monitor in monitors if monitor.coordinator.is_writer()]
        assert len(writers) <= 1, "two writers at once: %s" % writers
        writers_seen.append((monitors[0].clock.now, tuple(writers)))


@pytest.mark.moto
@pytest.mark.parametrize("skew_s", [1.0, -1.0, 0.0], ids=["standby-ahead", "standby-behind", "no-skew"])
def test_two_coordinators_never_write_at_once_across_a_takeover(table, skew_s):
    a, b = Monitor(table, "a"), Monitor(table, "b", skew_s=skew_s)
    a.coordinator.tick()
    b.coordinator.tick()
    assert a.coordinator.is_writer() and not b.coordinator.is_writer()
    assert (a.coordinator.fencing, b.coordinator.holder) == (1, "a")
    assert a.woken == [0.0] and sample(a.metrics, "lz_failover_lease_holder") == 1

    seen = []
    run([a, b], 3.0, [a, b], seen)
    assert all(writers == ("a",) for _at, writers in seen), "a renews and stays the only writer"
    last_renewal = a.clock.now
    run([a, b], 12.0, [b], seen)  # a stops renewing (dead or cut off); b keeps reading
    took_over = next(at for at, writers in seen if writers == ("b",))
    # writer_until of a's last renewal: lease 8 - skew 1 - connect timeout 3.
    assert not any(writers == ("a",) for at, writers in seen if at >= last_renewal + 4.0)
    assert took_over <= last_renewal + 8 + 1 + abs(skew_s) + STEP_S, "lease_s + renew_interval_s (+ skew) after the last renewal"
    assert b.coordinator.fencing == 2 and b.woken and b.log.named("lease_acquired")[0]["fencing"] == 2

    a.coordinator.tick()  # a comes back: it sees b's lease and stays a standby
    assert not a.coordinator.is_writer() and a.coordinator.holder == "b"
    assert [fields["holder"] for fields in a.log.named("lease_lost")] == ["b"]
    assert sample(a.metrics, "lz_failover_lease_transitions_total", event="lost") == 1


@pytest.mark.moto
def test_a_holder_cut_off_from_the_table_stops_writing_at_writer_until(table):
    a = Monitor(table, "a")
    a.coordinator.tick()
    assert a.coordinator.is_writer()
    # From now on the table cannot be reached (nothing listens on the discard port; refused at once).
    unreachable = validate_document(document(endpoint_url="http://127.0.0.1:9", api={"connect_timeout_s": 0.2},
                                             coordination={"table": TABLE, "lease_s": 2, "renew_interval_s": 0.5, "max_clock_skew_s": 0.1}))
    a.coordinator._client = dynamodb_client(unreachable, None)  # pylint: disable=protected-access
    a.clock.advance(1.0)
    a.coordinator.tick()  # the read fails: logged, counted, still the writer until writer_until
    assert a.coordinator.is_writer() and a.coordinator.errors == 1
    assert a.log.named("coordination_error")[0]["operation"] == "Query"
    a.clock.advance(3.0)  # 4 s after the write: lease 8 - skew 1 - margin 3
    assert not a.coordinator.is_writer()
    a.coordinator.tick()
    assert len(a.log.named("lease_lost")) == 1 and sample(a.metrics, "lz_failover_lease_holder") == 0


@pytest.mark.moto
def test_stop_releases_the_lease_so_the_standby_takes_it_at_its_next_round(table):
    a, b = Monitor(table, "a"), Monitor(table, "b")
    a.coordinator.tick()
    b.coordinator.tick()
    b.coordinator.set_view(dx_state="passing", desired_path="dx")
    a.coordinator.stop()
    assert not a.coordinator.is_writer() and a.log.named("lease_released")[0]["fencing"] == 1
    assert not a.log.named("lease_lost"), "a release is not a loss"
    assert sample(a.metrics, "lz_failover_lease_transitions_total", event="released") == 1
    b.clock.advance(0.01)
    b.coordinator.tick()
    assert b.coordinator.is_writer() and b.coordinator.fencing == 2
    views = {item["record"]["S"]: item for item in b.coordinator.latest_records()}
    assert views["monitor#b"]["role"] == {"S": "standby"}, "the view as of b's previous round"
    b.clock.advance(1.0)
    b.coordinator.tick()
    views = {item["record"]["S"]: item for item in b.coordinator.latest_records()}
    assert views["monitor#b"]["role"] == {"S": "holder"} and views["monitor#b"]["desired_path"] == {"S": "dx"}


@pytest.mark.moto
def test_a_holder_cut_off_from_ec2_but_not_from_the_table_gives_the_lease_up_and_the_standby_takes_it(table):
    a, b = Monitor(table, "a"), Monitor(table, "b")
    failing = {"a": None}
    a.coordinator._ec2_failing_for = lambda: failing["a"]  # pylint: disable=protected-access
    a.coordinator.tick()
    b.coordinator.tick()
    assert a.coordinator.is_writer()
    failing["a"] = 15.9  # just under two lease durations (2 x 8 s): a keeps it
    a.coordinator.tick()
    assert a.coordinator.is_writer() and not a.log.named("lease_stepped_down")
    failing["a"] = 16.0
    a.coordinator.tick()
    assert not a.coordinator.is_writer() and [line["ec2_failing_for_s"] for line in a.log.named("lease_stepped_down")] == [16.0]
    assert a.log.named("lease_released")
    b.clock.advance(0.01)
    b.coordinator.tick()
    assert b.coordinator.is_writer() and b.coordinator.fencing == 2, "the standby, whose EC2 answers, takes it at once"
    a.clock.advance(20.0)
    b.clock.advance(20.0)  # b stops renewing: a, still failing, does not take an expired lease
    a.coordinator.tick()
    assert not a.coordinator.is_writer() and len(a.log.named("lease_stepped_down")) == 1, "logged once per change"
    failing["a"] = None
    a.coordinator.tick()
    assert a.coordinator.is_writer() and a.log.named("lease_eligible")


# --------------------------------------------------------------------------- the actuator's guard


@pytest.fixture
def actuator_setup(lz_world):
    config = validate_document(document(
        region=lz_world.region, endpoint_url=lz_world.endpoint_url, route_table_ids=[lz_world.prod_rtb_id],
        destination_cidrs=list(lz_world.onprem_cidrs), vpn_eni_id=lz_world.vpn_eni_id, probe_route_table_id=lz_world.probe_rtb_id,
        api={"max_parallel_calls": 1},
    ))
    return config, FakeClock(), RecordingLog(), Metrics()


@pytest.mark.moto
def test_a_standby_reads_the_tables_but_makes_no_route_call(actuator_setup, ec2, lz_world, ec2_endpoint):
    config, clock, log, metrics = actuator_setup
    writer = {"now": False}
    actuator = Actuator(config, log, metrics, client_factory=ec2_client, clock=clock.monotonic, rng=lambda: 1.0, may_write=lambda: writer["now"])
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    for _attempt in range(3):
        assert actuator.attempt(config, "vpn") == config.reconcile_interval_s
    assert sum(route_changing_requests(ec2_endpoint).values()) == 0
    assert actuator.book.applied == "dx" and not actuator.book.converged
    assert len(log.named("not_writer")) == 1, "logged once per change of role"
    assert log.named("not_writer")[0]["held_actions"] == 2

    writer["now"] = True  # the lease is taken: the next attempt converges
    actuator.attempt(config, "vpn")
    assert static_routes(ec2, lz_world.prod_rtb_id) == {cidr: lz_world.vpn_eni_id for cidr in lz_world.onprem_cidrs}
    assert actuator.book.converged

    writer["now"] = False  # the lease passed on; drift is now the new writer's to repair
    ec2.delete_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=lz_world.onprem_cidrs[0])
    calls_before = sum(route_changing_requests(ec2_endpoint).values())
    actuator.attempt(config, "vpn")
    actuator.attempt(config, "vpn")
    assert sum(route_changing_requests(ec2_endpoint).values()) == calls_before, "no route call after the test's own delete"
    assert len(log.named("not_writer")) == 2, "logged again after the role changed"


@pytest.mark.moto
def test_a_holder_whose_lease_lapses_mid_plan_stops_before_the_next_call(actuator_setup, ec2, lz_world, ec2_endpoint):
    config, clock, log, metrics = actuator_setup
    answers = iter([True, True])  # asked before the plan and before its first call; then the lease has lapsed
    actuator = Actuator(config, log, metrics, client_factory=ec2_client, clock=clock.monotonic, rng=lambda: 1.0,
                        may_write=lambda: next(answers, False))
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    assert actuator.attempt(config, "vpn") == config.reconcile_interval_s
    assert route_changing_requests(ec2_endpoint)["CreateRoute"] == 1
    assert log.named("not_writer")[0]["completed_actions"] == 1
    assert actuator.failures == 0, "not an API failure: no backoff, no api_error"
    assert not log.named("api_error")


# --------------------------------------------------------------------------- the daemon's wiring


class StubCoordinator:
    def __init__(self, writer, records=()):
        self.writer = writer
        self.views = []
        self.records = list(records)

    def latest_records(self):
        return list(self.records)

    def is_writer(self):
        return self.writer

    def set_view(self, **view):
        self.views.append(view)

    def status(self):
        return {"role": "holder" if self.writer else "standby", "holder": "other", "fencing": 7, "monitor_id": "me"}


def test_without_a_table_the_monitor_is_the_only_writer():
    harness = Harness()
    assert harness.monitor.coordinator is None and harness.monitor._may_write()  # pylint: disable=protected-access


def test_with_a_table_only_the_coordinators_writer_writes_and_the_status_says_who_holds_the_lease():
    harness = Harness(config=validate_document(document(coordination={"table": TABLE})))
    monitor = harness.monitor
    assert not monitor._may_write(), "no coordinator yet: no write"  # pylint: disable=protected-access
    monitor.coordinator = StubCoordinator(writer=False)
    assert not monitor._may_write()  # pylint: disable=protected-access
    monitor.coordinator.writer = True
    assert monitor._may_write()  # pylint: disable=protected-access
    harness.rounds(3, UP)
    assert monitor.coordinator.views[-1] == {"dx_state": "passing", "desired_path": "dx"}
    monitor.report_status()
    status = harness.log.named("status")[-1]
    assert (status["role"], status["holder"], status["fencing"]) == ("holder", "other", 7)


def test_on_stop_the_lease_is_released_after_the_actuator_made_its_last_call():
    harness = Harness(config=validate_document(document(coordination={"table": TABLE})))
    monitor, stopped = harness.monitor, []
    monitor.writer = monitor.notifier = None
    monitor.actuator = type("Actuator", (), {"stop": lambda self: stopped.append("actuator")})()
    monitor.coordinator = type("Coordinator", (), {"stop": lambda self: stopped.append("coordinator (release)")})()
    monitor._stop_components()  # pylint: disable=protected-access
    assert stopped == ["actuator", "coordinator (release)"]


# --------------------------------------------------------------------------- the operator's pin


def pinned_harness(path, until_in_s=None):
    """A running monitor (state machine started on dx) whose group holds a pin to ``path``."""
    harness = Harness(config=validate_document(document(coordination={"table": TABLE})))
    harness.monitor.coordinator = StubCoordinator(writer=True)
    harness.rounds(2, UP)
    now = harness.clock.time()
    until = None if until_in_s is None else now + until_in_s
    harness.monitor.coordinator.records = [Pin(path=path, until=until, who="ops", why="DX maintenance", set_at=now).to_item("lz-failover")]
    return harness


def test_a_pin_moves_the_routes_against_the_decision_and_is_reported_once():
    harness = pinned_harness("vpn").rounds(5, UP)
    monitor = harness.monitor
    assert monitor.actuator.desired[-1] == "vpn" and monitor.machine.path == "dx", "the routes follow the pin, the decision stays dx"
    [event] = harness.log.named("pin_in_force")
    assert (event["path"], event["who"], event["why"], event["routes_path"], event["decided_path"]) == ("vpn", "ops", "DX maintenance", "vpn", "dx")
    assert harness.sample("lz_failover_pin_in_force") == 1
    assert [message["event"] for _subject, message in monitor.notifier.messages] == ["pin_in_force"]
    monitor.report_status()
    assert harness.log.named("status")[-1]["pinned_path"] == "vpn"


def test_a_transition_while_pinned_leaves_the_routes_on_the_pinned_path():
    harness = pinned_harness("dx").rounds(2, UP)
    harness.rounds(10, DOWN)
    monitor = harness.monitor
    assert monitor.machine.path == "vpn", "the state machine still decides"
    assert monitor.actuator.desired[-1] == "dx", "but the pin keeps the routes on dx"
    assert harness.log.named("transition")


def test_when_the_pin_expires_the_routes_follow_the_decision_again():
    harness = pinned_harness("vpn", until_in_s=1.0).rounds(2, UP)
    assert harness.monitor.actuator.desired[-1] == "vpn"
    harness.rounds(15, UP)
    assert harness.monitor.actuator.desired[-1] == "dx"
    [ended] = harness.log.named("pin_ended")
    assert (ended["reason"], ended["routes_path"]) == ("expired", "dx")
    assert harness.sample("lz_failover_pin_in_force") == 0
