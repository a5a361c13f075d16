"""The route watch on a scripted EC2 client and a simulated clock (no API, no real sleeping)."""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError

from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import RouteWatch
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import validate_watch_settings
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import watch_routes
from tests.support.fake_clock import FakeClock

RTB = "rtb-0123456789abcdef0"
RTB2 = "rtb-0fedcba9876543210"
PROBE_RTB = "rtb-0aaaaaaaaaaaaaaaa"
ENI = "eni-0123456789abcdef0"
FOREIGN_ENI = "eni-0bbbbbbbbbbbbbbbb"
OLD_ENI = "eni-0aaaaaaaaaaaaaaaa"  # the interface of a replaced appliance, still tagged as one
VGW = "vgw-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
ONPREM = "198.19.0.0/24"
ONPREM6 = "2001:db8:100::/56"
EPOCH = 1_700_000_000.0


def throttled():
    return ClientError({"Error": {"Code": "RequestLimitExceeded", "Message": "Request limit exceeded."}}, "DescribeRouteTables")


class FakeEc2:
    """Serves DescribeRouteTables from mutable tables; each call takes ``latency`` simulated seconds.

    ``after_read[n]`` runs once the n-th DescribeRouteTables call (1 = the validating one) has been
    answered, so its change lands between read n and read n + 1. ``failing_reads`` answer throttling.
    """

    def __init__(self, clock, route_table_ids=(RTB,), latency=0.0):
        self.clock = clock
        self.latency = latency
        self.tables = {rtb: {"RouteTableId": rtb, "VpcId": VPC, "Routes": self._base_routes(), "PropagatingVgws": [{"GatewayId": VGW}]}
                       for rtb in list(route_table_ids) + [PROBE_RTB]}
        self.after_read = {}
        self.failing_reads = set()
        self.read_started = []
        self.appliance_tagged = [ENI]

    @staticmethod
    def _base_routes():
        return [
            {"DestinationCidrBlock": "198.18.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
            {"DestinationCidrBlock": ONPREM, "GatewayId": VGW, "Origin": "EnableVgwRoutePropagation", "State": "active"},
            {"DestinationIpv6CidrBlock": ONPREM6, "GatewayId": VGW, "Origin": "EnableVgwRoutePropagation", "State": "active"},
        ]

    class meta:  # pylint: disable=invalid-name,too-few-public-methods
        region_name = "us-east-1"

    # --- EC2 API surface used by module_utils.ec2

    def get_paginator(self, operation):
        assert operation == "describe_route_tables"
        return self

    def paginate(self, Filters):  # pylint: disable=invalid-name
        number = len(self.read_started) + 1
        self.read_started.append(self.clock.monotonic())
        self.clock.advance(self.latency)
        try:
            if number in self.failing_reads:
                raise throttled()
            wanted = Filters[0]["Values"]
            return [{"RouteTables": [copy.deepcopy(self.tables[rtb]) for rtb in wanted if rtb in self.tables]}]
        finally:
            if number in self.after_read:
                self.after_read.pop(number)(self)

    def describe_network_interfaces(self, Filters):  # pylint: disable=invalid-name
        names = {item["Name"] for item in Filters}
        if "network-interface-id" in names:
            wanted = Filters[0]["Values"][0]
            known = [ENI, FOREIGN_ENI]
            return {"NetworkInterfaces": [{"NetworkInterfaceId": wanted, "VpcId": VPC, "SourceDestCheck": False}] if wanted in known else []}
        return {"NetworkInterfaces": [{"NetworkInterfaceId": eni} for eni in self.appliance_tagged]}

    # --- what other actors do to the tables

    def add_static(self, rtb, destination, eni=ENI):
        key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
        self.tables[rtb]["Routes"].append({key: destination, "NetworkInterfaceId": eni, "Origin": "CreateRoute", "State": "active"})

    def delete_static(self, rtb, destination):
        def is_it(route):
            return route["Origin"] == "CreateRoute" and destination in (route.get("DestinationCidrBlock"), route.get("DestinationIpv6CidrBlock"))

        self.tables[rtb]["Routes"] = [route for route in self.tables[rtb]["Routes"] if not is_it(route)]

    def withdraw_dx(self, rtb):
        self.tables[rtb]["Routes"] = [route for route in self.tables[rtb]["Routes"] if route["Origin"] != "EnableVgwRoutePropagation"]


def to_vpn(rtb=RTB, destinations=(ONPREM,)):
    def change(fake):
        for destination in destinations:
            fake.add_static(rtb, destination)
    return change


def to_dx(rtb=RTB, destinations=(ONPREM,)):
    def change(fake):
        for destination in destinations:
            fake.delete_static(rtb, destination)
    return change


def settings(route_table_ids=(RTB,), destinations=(ONPREM,), **options):
    options.setdefault("duration", 3.0)
    return validate_watch_settings(list(route_table_ids), list(destinations), ENI, probe_route_table_id=PROBE_RTB, **options)


def watch(fake, clock, **options):
    record, _warnings = watch_routes(fake, settings(route_table_ids=[rtb for rtb in fake.tables if rtb != PROBE_RTB], **options), clock)
    return record


@pytest.fixture
def clock():
    """Monotonic seconds from 0, wall time EPOCH later; only sleeps and API latency move it."""
    return FakeClock(start=0.0, wall_offset=EPOCH)


class TestCadence:
    def test_reads_on_the_interval_grid_and_once_more_at_the_end(self, clock):
        fake = FakeEc2(clock)
        record = watch(fake, clock, interval=0.5, duration=2.0)
        assert fake.read_started == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
        assert record["reads"] == 5
        assert record["ended_by"] == "duration"
        assert (record["started_at"], record["ended_at"]) == (EPOCH, EPOCH + 2.0)

    def test_time_spent_reading_does_not_delay_the_next_read(self, clock):
        fake = FakeEc2(clock, latency=0.2)
        watch(fake, clock, interval=0.5, duration=1.5)
        assert fake.read_started == pytest.approx([0.0, 0.5, 1.0, 1.5])
        assert clock.sleeps == pytest.approx([0.3, 0.3, 0.3])

    def test_a_read_longer_than_the_interval_skips_the_slots_it_overlapped(self, clock):
        fake = FakeEc2(clock, latency=0.7)
        watch(fake, clock, interval=0.5, duration=3.0)
        assert fake.read_started == pytest.approx([0.0, 1.0, 2.0, 3.0])

    def test_duration_ends_the_watch_even_when_shorter_than_the_interval(self, clock):
        fake = FakeEc2(clock)
        record = watch(fake, clock, interval=5.0, duration=1.2)
        assert fake.read_started == pytest.approx([0.0, 1.2])
        assert record["ended_by"] == "duration"


class TestChanges:
    def test_failover_and_failback_are_recorded_with_bounds(self, clock):
        fake = FakeEc2(clock, latency=0.1)
        fake.after_read = {2: to_vpn(), 5: to_dx()}
        record = watch(fake, clock, interval=0.5, duration=4.0)

        assert record["initial"] == {RTB: "dx"} and record["final"] == {RTB: "dx"}
        assert [(c["route_table_id"], c["from_path"], c["to_path"]) for c in record["changes"]] == [(RTB, "dx", "vpn"), (RTB, "vpn", "dx")]
        to_vpn_change, to_dx_change = record["changes"]
        # Changed after read 2 (started at 0.5) was answered; read 3 (0.1 s long from 1.0) saw it.
        assert to_vpn_change["previous_read_time"] == pytest.approx(EPOCH + 0.5)
        assert to_vpn_change["time"] == pytest.approx(EPOCH + 1.1)
        assert to_dx_change["previous_read_time"] == pytest.approx(EPOCH + 2.0)
        assert to_dx_change["time"] == pytest.approx(EPOCH + 2.6)

    def test_change_carries_the_destination_detail(self, clock):
        fake = FakeEc2(clock)
        fake.after_read = {1: to_vpn()}
        record = watch(fake, clock, duration=1.0)
        assert record["changes"][0]["destinations"] == [
            {"destination_cidr": ONPREM, "path": "vpn", "target": ENI, "propagated_dx_route": True}
        ]

    def test_dx_withdrawal_alone_is_not_a_path_change(self, clock):
        fake = FakeEc2(clock)
        fake.after_read = {2: lambda fake: fake.withdraw_dx(RTB)}
        record = watch(fake, clock, duration=2.0)
        assert record["changes"] == []

    def test_destinations_moving_one_at_a_time_pass_through_mixed(self, clock):
        fake = FakeEc2(clock)
        fake.after_read = {1: to_vpn(destinations=(ONPREM,)), 3: to_vpn(destinations=(ONPREM6,))}
        record = watch(fake, clock, destinations=(ONPREM, ONPREM6), duration=3.0)
        assert [(c["from_path"], c["to_path"]) for c in record["changes"]] == [("dx", "mixed"), ("mixed", "vpn")]

    def test_a_mixed_table_whose_destinations_swap_is_a_change(self, clock):
        fake = FakeEc2(clock)
        fake.add_static(RTB, ONPREM)

        def swap(fake):
            fake.delete_static(RTB, ONPREM)
            fake.add_static(RTB, ONPREM6)

        fake.after_read = {2: swap}
        record = watch(fake, clock, destinations=(ONPREM, ONPREM6), duration=2.0)
        assert record["initial"] == {RTB: "mixed"}
        assert [(c["from_path"], c["to_path"]) for c in record["changes"]] == [("mixed", "mixed")]
        assert [d["path"] for d in record["changes"][0]["destinations"]] == ["dx", "vpn"]

    def test_each_table_is_followed_on_its_own(self, clock):
        fake = FakeEc2(clock, route_table_ids=(RTB, RTB2))
        fake.after_read = {1: to_vpn(RTB2)}
        record = watch(fake, clock, duration=1.0)
        assert [(c["route_table_id"], c["to_path"]) for c in record["changes"]] == [(RTB2, "vpn")]
        assert record["final"] == {RTB: "dx", RTB2: "vpn"}

    def test_foreign_route_is_a_warning_and_its_target_a_destination_path(self, clock):
        fake = FakeEc2(clock)
        fake.add_static(RTB, ONPREM, eni=FOREIGN_ENI)
        fake.appliance_tagged = [ENI]
        record, warnings = watch_routes(fake, settings(duration=0.5), clock)
        assert record["initial"] == {RTB: "dx"}, "a route that is not ours is left out of the table's path"
        assert any("%s has a static route %s -> %s" % (RTB, ONPREM, FOREIGN_ENI) in warning for warning in warnings)

    def test_foreign_route_next_to_ours_leaves_the_table_on_our_path(self, clock):
        fake = FakeEc2(clock)
        fake.add_static(RTB, ONPREM, eni=FOREIGN_ENI)
        fake.add_static(RTB, ONPREM6)
        started = RouteWatch(fake, settings(destinations=(ONPREM, ONPREM6), duration=0.5), clock).start()
        assert [entry["path"] for entry in started.views[RTB].destinations] == [FOREIGN_ENI, "vpn"]
        assert started.initial == {RTB: "vpn"}

    def test_route_to_a_replaced_appliance_is_on_the_vpn(self, clock):
        fake = FakeEc2(clock)
        fake.add_static(RTB, ONPREM, eni=OLD_ENI)
        fake.appliance_tagged = [ENI, OLD_ENI]
        fake.after_read = {2: to_dx()}
        record, warnings = watch_routes(fake, settings(duration=1.0), clock)
        assert record["initial"] == {RTB: "vpn"} and warnings == []
        assert [(c["from_path"], c["to_path"]) for c in record["changes"]] == [("vpn", "dx")]


class TestReadErrors:
    def test_failed_reads_are_counted_and_the_watch_goes_on(self, clock):
        fake = FakeEc2(clock)
        fake.failing_reads = {3, 4}
        record = watch(fake, clock, interval=0.5, duration=3.0)
        assert record["read_errors"] == 2
        assert record["reads"] == 7
        assert "RequestLimitExceeded" in record["last_error"]
        assert record["ended_by"] == "duration"

    def test_bounds_of_a_change_span_the_failed_reads(self, clock):
        fake = FakeEc2(clock)
        fake.failing_reads = {3, 4}
        fake.after_read = {3: to_vpn()}
        record = watch(fake, clock, interval=0.5, duration=3.0)
        (change,) = record["changes"]
        # Read 2 (at 0.5) was the last to answer before the change; read 5 (at 2.0) saw it.
        assert (change["previous_read_time"], change["time"]) == pytest.approx((EPOCH + 0.5, EPOCH + 2.0))

    def test_no_failed_read_leaves_last_error_null(self, clock):
        record = watch(FakeEc2(clock), clock, duration=1.0)
        assert (record["read_errors"], record["last_error"]) == (0, None)

    def test_a_table_that_disappears_is_a_failed_read(self, clock):
        fake = FakeEc2(clock)
        fake.after_read = {2: lambda fake: fake.tables.pop(RTB)}
        record = watch(fake, clock, interval=0.5, duration=1.5)
        assert record["read_errors"] == 2
        assert record["last_error"] == "route table(s) %s no longer found" % RTB
        assert record["final"] == {RTB: "dx"}


class TestStopConditions:
    def test_stop_file_ends_the_watch_with_one_more_read(self, clock, tmp_path):
        stop_file = tmp_path / "drill.stop"

        def failback_then_stop(fake):
            to_dx()(fake)
            stop_file.touch()

        fake = FakeEc2(clock)
        fake.after_read = {2: to_vpn(), 4: failback_then_stop}
        record = watch(fake, clock, interval=0.5, duration=60.0, stop_file=str(stop_file))
        assert record["ended_by"] == "stop_file"
        assert record["reads"] == 5
        assert [c["to_path"] for c in record["changes"]] == ["vpn", "dx"], "the last read shows the state at the stop"

    def test_until_path_waits_for_a_change_before_ending(self, clock):
        fake = FakeEc2(clock)
        fake.after_read = {3: to_vpn(), 6: to_dx()}
        record = watch(fake, clock, interval=0.5, duration=60.0, until_path="dx")
        assert record["ended_by"] == "until_path"
        assert record["reads"] == 7
        assert [c["to_path"] for c in record["changes"]] == ["vpn", "dx"]

    def test_until_path_needs_every_table(self, clock):
        fake = FakeEc2(clock, route_table_ids=(RTB, RTB2))
        fake.after_read = {1: to_vpn(RTB), 4: to_vpn(RTB2)}
        record = watch(fake, clock, interval=0.5, duration=60.0, until_path="vpn")
        assert record["ended_by"] == "until_path"
        assert record["reads"] == 5
        assert record["final"] == {RTB: "vpn", RTB2: "vpn"}

    def test_until_path_not_reached_ends_by_duration(self, clock):
        fake = FakeEc2(clock)
        fake.after_read = {1: to_vpn()}
        record = watch(fake, clock, interval=0.5, duration=2.0, until_path="dx")
        assert record["ended_by"] == "duration"
        assert record["final"] == {RTB: "vpn"}


def test_record_leaves_the_async_status_keys_alone(clock):
    # async_status takes "started" without "finished" in a job's result for a job still running.
    record = watch(FakeEc2(clock), clock, duration=0.5)
    assert not {"started", "finished", "ansible_job_id", "results_file"} & set(record)


class TestValidation:
    def test_every_offline_problem_in_one_error(self, tmp_path):
        leftover = tmp_path / "drill.stop"
        leftover.touch()
        with pytest.raises(ValidationError) as raised:
            validate_watch_settings(
                ["rtb-bad"], ["198.19.0.1/24"], ENI, duration=3601, interval=0.05, stop_file=str(leftover), until_path="mixed"
            )
        message = raised.value.message
        for expected in ("'rtb-bad' is not a valid route table ID", "host bits set", "interval must be at least 0.1",
                         "duration must be more than 0 and at most 3600", "stop_file %s already exists" % leftover, "until_path must be"):
            assert expected in message

    @pytest.mark.parametrize("duration", [0, -1.0])
    def test_duration_must_be_positive(self, duration):
        with pytest.raises(ValidationError, match="duration must be more than 0"):
            settings(duration=duration)

    def test_normalizes_inputs(self):
        result = validate_watch_settings([RTB, RTB], ["2001:DB8:100::/56"], ENI, duration=10, interval=1)
        assert (result.route_table_ids, result.destinations, result.interval, result.duration) == ((RTB,), (ONPREM6,), 1.0, 10.0)

    def test_missing_table_fails_at_the_first_read_without_watching(self, clock):
        fake = FakeEc2(clock)
        with pytest.raises(ValidationError, match="rtb-0000000000000000f"):
            RouteWatch(fake, settings(route_table_ids=(RTB, "rtb-0000000000000000f")), clock).start()
        assert len(fake.read_started) == 1
        assert clock.sleeps == []
