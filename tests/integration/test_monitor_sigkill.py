# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIGKILL the daemon at many moments, restart it, and check it converges without a stray call.

Each case starts from a known state, kills the daemon at one moment of a failover or a
failback, restarts it and waits for the tables to reach the state the network calls
for. The moments cover the whole decide-and-apply cycle, each reached by a hook rather
than a guessed sleep: during start-up, while rounds fail but before the decision (seen
in the metrics), right after the decision (its log line), during the first and the
second route call and between them (the endpoint holds slowed requests and counts
them), once both routes are in the table, and after ``routes_converged``. Then, from the endpoint's per-Action request counters and
the daemons' logs:

* no duplicate: every CreateRoute and DeleteRoute changed the table (the fidelity
  layer rejects a duplicate CreateRoute, and a daemon would log it as ``already-done``);
* no foreign change: ReplaceRoute was never called, the foreign routes are as they
  were, and the probe route table never changed.
"""

from __future__ import annotations

import time

import pytest

from harness.aws import delete_faults
from harness.aws import get_fault_stats
from harness.aws import put_fault
from harness.monitor import all_routes
from harness.monitor import route_changing_requests
from harness.monitor import static_routes
from harness.waiting import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.moto]

FAILBACK_HOLD_S = 3
SLOW_CALL_MS = 1500
BETWEEN_DELETES_MS = 500
# Long enough for a request the killed daemon had already sent to reach the endpoint and finish there.
IN_FLIGHT_GRACE_S = 0.3
FOREIGN_CIDR = "198.19.7.0/24"
BETWEEN_CREATES_MS = 500
# For the "failing_rounds" moment: enough rounds to the decision (2 s) that a kill after the
# first failed rounds lands before it even on a loaded machine.
SLOW_DECISION_ROUNDS = 20


class Scenario:
    """One world with foreign routes around the managed ones, and the daemons run on it."""

    def __init__(self, mlab, **config_overrides):
        self.mlab = mlab
        self.world = world = mlab.fresh_world()
        self.ec2 = ec2 = mlab.ec2()
        foreign_eni = ec2.create_network_interface(SubnetId=world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
        # Foreign routes next to ours: another destination in the managed table, and a
        # managed destination in a table of another VPC that the daemon does not manage.
        ec2.create_route(RouteTableId=world.prod_rtb_id, DestinationCidrBlock=FOREIGN_CIDR, NetworkInterfaceId=foreign_eni)
        ec2.create_route(RouteTableId=world.other_rtb_id, DestinationCidrBlock=world.onprem_cidrs[0], NetworkInterfaceId=world.other_eni_id)
        self.foreign = {FOREIGN_CIDR: foreign_eni}
        self.other_before = all_routes(ec2, world.other_rtb_id)
        self.probe_before = all_routes(ec2, world.probe_rtb_id)
        self.config_path = mlab.write_config(mlab.config(world, **config_overrides))
        self.daemons = []

    # -- states

    def vpn_routes(self):
        return dict(self.foreign, **{destination: self.world.vpn_eni_id for destination in self.world.onprem_cidrs})

    def on_vpn(self):
        return static_routes(self.ec2, self.world.prod_rtb_id) == self.vpn_routes()

    def on_dx(self):
        return static_routes(self.ec2, self.world.prod_rtb_id) == self.foreign

    def owned_routes(self):
        return sum(1 for target in static_routes(self.ec2, self.world.prod_rtb_id).values() if target == self.world.vpn_eni_id)

    def put_on_vpn(self):
        for destination in self.world.onprem_cidrs:
            key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
            self.ec2.create_route(RouteTableId=self.world.prod_rtb_id, NetworkInterfaceId=self.world.vpn_eni_id, **{key: destination})

    # -- daemons

    def start(self):
        daemon = self.mlab.start_daemon(self.config_path, name="run%d" % len(self.daemons))
        self.daemons.append(daemon)
        return daemon

    def restart(self):
        """Start a new daemon and check it learned the path from the tables as they are now."""
        owned = self.owned_routes()
        daemon = self.start()
        initial = daemon.wait_for_event("initial_path", timeout=15)
        expected = {0: "dx", 1: "mixed", 2: "vpn"}[owned]
        assert initial["tables_path"] == expected and initial["path"] == ("vpn" if expected == "mixed" else expected), initial
        return daemon

    def kill(self, daemon):
        daemon.kill()
        time.sleep(IN_FLIGHT_GRACE_S)

    def begin_counting(self):
        """Zero the endpoint's counters and remember how many routes we own now."""
        delete_faults(self.mlab.endpoint_url)
        self.owned_at_start = self.owned_routes()  # pylint: disable=attribute-defined-outside-init

    # -- the checks every case ends with

    def assert_clean(self, expected_creates=None, expected_deletes=None):
        counts = route_changing_requests(self.mlab.endpoint_url)
        assert counts["ReplaceRoute"] == 0, counts
        # Every create and delete changed the table: none was a duplicate or hit a missing route.
        assert counts["CreateRoute"] - counts["DeleteRoute"] == self.owned_routes() - self.owned_at_start, counts
        if expected_creates is not None:
            assert counts["CreateRoute"] == expected_creates, counts
        if expected_deletes is not None:
            assert counts["DeleteRoute"] == expected_deletes, counts
        for daemon in self.daemons:
            outcomes = {action["outcome"] for action in daemon.events("route_action")}
            assert "already-done" not in outcomes, "a daemon ran a route call that was already done:\n%s" % daemon.log_tail()
            assert not {"RouteAlreadyExists", "InvalidRoute.NotFound"} & {event["code"] for event in daemon.events("api_error")}
            assert not daemon.events("raw"), daemon.log_tail()
        assert all_routes(self.ec2, self.world.other_rtb_id) == self.other_before
        assert all_routes(self.ec2, self.world.probe_rtb_id) == self.probe_before
        for destination, target in self.foreign.items():
            assert static_routes(self.ec2, self.world.prod_rtb_id)[destination] == target


def kill_when_logged(scenario, daemon, event, **fields):
    daemon.wait_for_event(event, timeout=15, interval=0.005, **fields)
    scenario.kill(daemon)


def kill_during_slow_call(scenario, daemon, action, nth=1):
    """Kill while the endpoint is still sitting on the ``nth`` slowed ``action`` request of this daemon."""
    wait_for(lambda: get_fault_stats(scenario.mlab.endpoint_url)["delayed"].get(action, 0) >= nth, 15, "slowed %s number %d" % (action, nth), 0.01)
    daemon.kill()
    time.sleep(SLOW_CALL_MS / 1000.0 + IN_FLIGHT_GRACE_S)


def kill_while_rounds_fail(scenario, daemon, failed_rounds=3):
    """Kill once a few rounds failed, before the decision (SLOW_DECISION_ROUNDS away)."""
    def failed():
        return (daemon.scrape().value("lz_failover_probe_rounds_failed_total") or 0) >= failed_rounds
    wait_for(failed, 15, "%d failed probe rounds" % failed_rounds, 0.01)
    scenario.kill(daemon)
    assert not daemon.events("transition"), "the kill was meant to land before the decision"


def kill_once(scenario, daemon, check, what):
    wait_for(check, 15, what, 0.005)
    scenario.kill(daemon)


FAILOVER_MOMENTS = [
    "startup", "failing_rounds", "after_decision", "during_first_create", "between_creates",
    "during_second_create", "after_both_creates", "after_converged",
]


# --------------------------------------------------------------------------- failover (DX cut)


def slow_down_creates(mlab, moment):
    if moment == "during_first_create":
        put_fault(mlab.endpoint_url, "CreateRoute", None, delay_ms=SLOW_CALL_MS, count=1)
    elif moment == "during_second_create":
        put_fault(mlab.endpoint_url, "CreateRoute", None, delay_ms=SLOW_CALL_MS, count=2)
    elif moment == "between_creates":
        # Both creates slowed: the kill comes once the first is logged, while the second is on its way.
        put_fault(mlab.endpoint_url, "CreateRoute", None, delay_ms=BETWEEN_CREATES_MS, count=2)


def kill_during_failover(scenario, daemon, moment):
    """Kill ``daemon`` at ``moment`` of the failover that the DX cut just started."""
    if moment == "failing_rounds":
        kill_while_rounds_fail(scenario, daemon)
    elif moment == "after_decision":
        kill_when_logged(scenario, daemon, "transition", to_path="vpn")
    elif moment == "during_first_create":
        kill_during_slow_call(scenario, daemon, "CreateRoute")
    elif moment == "between_creates":
        kill_when_logged(scenario, daemon, "route_action", action="create")
        time.sleep(BETWEEN_CREATES_MS / 1000.0)
    elif moment == "during_second_create":
        kill_during_slow_call(scenario, daemon, "CreateRoute", nth=2)
    elif moment == "after_both_creates":
        kill_once(scenario, daemon, scenario.on_vpn, "both routes in the table")
    elif moment == "after_converged":
        kill_when_logged(scenario, daemon, "routes_converged", path="vpn")
    else:
        raise AssertionError("unknown moment %s" % moment)


@pytest.mark.parametrize("moment", FAILOVER_MOMENTS)
def test_sigkill_during_failover_then_restart_converges_to_vpn(mlab, moment):
    overrides = {"policy": {"hard_failure_rounds": SLOW_DECISION_ROUNDS}} if moment == "failing_rounds" else {}
    scenario = Scenario(mlab, **overrides)
    scenario.begin_counting()
    if moment == "startup":
        mlab.set_dx(up=False)
        daemon = scenario.start()
        time.sleep(0.3)  # the interpreter is still starting, or reading the tables
        scenario.kill(daemon)
    else:
        daemon = scenario.start()
        daemon.wait_for_event("routes_converged", timeout=15)
        slow_down_creates(mlab, moment)
        mlab.set_dx(up=False)
        kill_during_failover(scenario, daemon, moment)

    restarted = scenario.restart()
    wait_for(scenario.on_vpn, 15 + SLOW_DECISION_ROUNDS * 0.1, "the restarted daemon to converge on the VPN", 0.05)
    restarted.wait_for_event("routes_converged", path="vpn")
    time.sleep(0.5)  # room for a stray call to show up in the counters
    scenario.assert_clean(expected_creates=2, expected_deletes=0)
    restarted.assert_running()


# --------------------------------------------------------------------------- failback (DX restored)


@pytest.mark.parametrize("moment", ["after_decision", "during_slow_delete", "between_deletes"])
def test_sigkill_during_failback_then_restart_converges_to_dx(mlab, moment):
    scenario = Scenario(mlab)
    scenario.put_on_vpn()
    scenario.begin_counting()
    if moment == "during_slow_delete":
        put_fault(mlab.endpoint_url, "DeleteRoute", None, delay_ms=SLOW_CALL_MS, count=1)
    elif moment == "between_deletes":
        # Both deletes slowed: the kill comes once the first is logged, while the second is on its way.
        put_fault(mlab.endpoint_url, "DeleteRoute", None, delay_ms=BETWEEN_DELETES_MS, count=2)
    daemon = scenario.start()
    assert daemon.wait_for_event("initial_path")["path"] == "vpn"
    if moment == "after_decision":
        kill_when_logged(scenario, daemon, "transition", to_path="dx")
    elif moment == "during_slow_delete":
        kill_during_slow_call(scenario, daemon, "DeleteRoute")
    else:
        kill_when_logged(scenario, daemon, "route_action", action="delete")
        time.sleep(BETWEEN_DELETES_MS / 1000.0)

    restarted = scenario.restart()
    wait_for(scenario.on_dx, FAILBACK_HOLD_S + 10, "the restarted daemon to converge on DX", 0.05)
    restarted.wait_for_event("routes_converged", path="dx")
    time.sleep(0.5)
    # A restart that finds the failback half done (mixed) treats it as VPN and completes
    # that first, so creates may appear; each must still have changed the table.
    scenario.assert_clean()
    restarted.assert_running()


def test_sigkill_during_a_slow_startup_read_then_restart_keeps_the_vpn_path(mlab):
    """Killed while reading the tables at start-up: the restart learns VPN and makes no change while DX is down."""
    scenario = Scenario(mlab)
    scenario.put_on_vpn()
    mlab.set_dx(up=False)
    scenario.begin_counting()
    put_fault(mlab.endpoint_url, "DescribeNetworkInterfaces", None, delay_ms=SLOW_CALL_MS, count=1)
    daemon = scenario.start()
    kill_during_slow_call(scenario, daemon, "DescribeNetworkInterfaces")

    restarted = scenario.restart()
    time.sleep(1.0)
    assert scenario.on_vpn()
    scenario.assert_clean(expected_creates=0, expected_deletes=0)
