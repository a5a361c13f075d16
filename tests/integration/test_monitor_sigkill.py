# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIGKILL the daemon at moments spread over the whole decide-and-apply cycle, restart it, check it converges cleanly.

Each case starts from a known state, kills the daemon at one moment of a failover or a
failback, restarts it and waits for the tables to reach the state the network calls for.
Every moment is reached by an observed event, never a guessed sleep, so a slow machine
hits the same moments:

* before the API calls: at start-up (its ``starting`` line, before the first read), while
  rounds fail but before the decision (the metrics), right after the decision (its log line);
* during them: the daemon sends its route calls one after the other
  (``api.max_parallel_calls: 1``) and the endpoint holds one of them
  (``hold_nth_request``): killed while the first is held (after the state file was written,
  the call then refused: nothing applied; or the call then applied after the death), while
  the second is held (the first applied, the second refused: half done; or applied), and,
  with the default parallel calls, while both are in flight;
* after them: once ``routes_converged`` is logged, and once the routes are made but the
  state file could not be written (the file then says DX while the tables say VPN).

After each kill the test waits until the endpoint has answered every request of the dead
daemon (``wait_until_dead_callers_are_answered``), checks that the kill landed where it was
meant to (the routes the tables hold then, the state file), then restarts. Each run signs with
its own access key, so the endpoint's request log (``/_fidelity/requests``) tells which run
made every route call, and the checks are exact:

* the restart makes exactly the calls still missing (2 - routes of ours it found) and no other:
  no duplicate create, no delete or replace of a route it did not create;
* no ReplaceRoute from anyone; every route call succeeded except the ones the endpoint was
  told to refuse; creates - deletes = the change in the table; no ``already-done``,
  ``RouteAlreadyExists``, ``InvalidRoute.NotFound`` in any log; the foreign routes, the other
  VPC's table and the probe route table unchanged.

What makes it fail (each checked by breaking the code locally, not committed):

* a restart that trusts the state file over the tables (``_start_state_machine_when_path_known``
  taking ``persisted.desired_path``): ``state_written_first_create_refused`` and
  ``state_write_failed`` fail (it would skip the failover, or undo it and redo it);
* a restart that takes a half-made change (``mixed``) for DX: ``between_creates`` and
  ``first_delete_lands_after_the_kill`` fail (it would delete the half, then start over);
* a plan that creates a route of ours that is already there (``routes/plan.py``):
  RouteAlreadyExists answers, more calls than the missing ones.

About 80 s for the file on an idle 2-core machine (14 cases).
"""

from __future__ import annotations

import json
import os

import pytest

from harness.aws import delete_faults
from harness.aws import get_fault_stats
from harness.aws import put_fault
from harness.monitor import ROUTE_CHANGING_ACTIONS
from harness.monitor import all_routes
from harness.monitor import caller_requests
from harness.monitor import deep_update
from harness.monitor import hold_nth_request
from harness.monitor import static_routes
from harness.monitor import wait_until_held
from harness.waiting import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.moto]

# How long the endpoint holds a route call the daemon is killed during: only the window in which the
# test, polling, sees it held; its length is not what is tested (a loaded machine needs more than an idle one).
HELD_CALL_MS = 1500
FOREIGN_CIDR = "198.19.7.0/24"
# For the "failing_rounds" moment: enough rounds to the decision (2 s) that a kill after the
# first failed rounds lands before it even on a loaded machine.
SLOW_DECISION_ROUNDS = 20
# The restart's reconcile read, the last thing waited for, comes this soon after it converged.
RECONCILE_INTERVAL_S = 0.5
FAILBACK_HOLD = {"failback_hold_s": 1, "dampening_max_hold_s": 1}


class Scenario:
    """One world with foreign routes around the managed ones, and the daemons run on it (one access key each)."""

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
        self.state_dir = os.path.join(mlab.workdir, "state")
        self.state_file = os.path.join(self.state_dir, "state.json")
        document = {"api": {"max_parallel_calls": 1}, "reconcile_interval_s": RECONCILE_INTERVAL_S, "state_file": self.state_file}
        self.config_path = mlab.write_config(mlab.config(world, **deep_update(document, config_overrides)))
        self.daemons = []  # (daemon, access key id)
        self.refused = 0  # route calls the endpoint was told to refuse
        self.owned_at_start = None

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

    def state_file_path(self):
        """``desired_path`` in the state file, None while there is none."""
        try:
            with open(self.state_file, encoding="utf-8") as handle:
                return json.load(handle)["desired_path"]
        except (OSError, ValueError):
            return None

    # -- daemons

    def start(self):
        key = "AKIASIGKILLRUN%06d" % len(self.daemons)
        daemon = self.mlab.start_daemon(self.config_path, name="run%d" % len(self.daemons), access_key_id=key)
        self.daemons.append((daemon, key))
        return daemon

    def kill(self, daemon):
        """SIGKILL, then wait until every request it had sent was answered (a held call may still land)."""
        daemon.kill()
        self.mlab.wait_until_dead_callers_are_answered()

    def restart(self):
        """Start a new daemon and check it learned the path from the tables as they are now."""
        owned = self.owned_routes()
        daemon = self.start()
        initial = daemon.wait_for_event("initial_path", timeout=15)
        expected = {0: "dx", 1: "mixed", 2: "vpn"}[owned]
        assert initial["tables_path"] == expected and initial["path"] == ("vpn" if expected == "mixed" else expected), initial
        return daemon, owned

    def begin_counting(self):
        """Zero the endpoint's counters and remember how many routes we own now."""
        delete_faults(self.mlab.endpoint_url)
        self.owned_at_start = self.owned_routes()

    def hold(self, action, nth, refuse=False):
        """The endpoint holds this daemon's ``nth`` ``action`` (then applies or refuses it)."""
        hold_nth_request(self.mlab.endpoint_url, action, nth, HELD_CALL_MS, refuse=refuse)
        self.refused += 1 if refuse else 0

    def route_calls(self, key):
        return caller_requests(self.mlab.endpoint_url, key, ROUTE_CHANGING_ACTIONS)

    def wait_for_a_reconcile_read(self, daemon, key):
        """The daemon read the tables once more after it converged: any call it meant to make is made by then."""
        daemon.wait_for_event("routes_converged")
        reads = len(caller_requests(self.mlab.endpoint_url, key, {"DescribeRouteTables"}))
        wait_for(lambda: len(caller_requests(self.mlab.endpoint_url, key, {"DescribeRouteTables"})) > reads, 15, "a reconcile read", 0.05)

    # -- the checks every case ends with

    def assert_clean(self, restart_creates, restart_deletes=0):
        """The restart made exactly the calls still missing; nobody made a duplicate, a replace or a foreign change."""
        calls = [entry for _daemon, key in self.daemons for entry in self.route_calls(key)]
        assert not [entry for entry in calls if entry["action"] == "ReplaceRoute"], calls
        failed = [entry for entry in calls if entry["status"] != 200]
        assert len(failed) == self.refused and all(entry["status"] == 500 for entry in failed), "only the refused calls fail: %s" % failed
        done = [entry["action"] for entry in calls if entry["status"] == 200]
        assert done.count("CreateRoute") - done.count("DeleteRoute") == self.owned_routes() - self.owned_at_start, calls
        _restarted, restart_key = self.daemons[-1]
        restart_calls = [entry["action"] for entry in self.route_calls(restart_key)]
        assert sorted(restart_calls) == ["CreateRoute"] * restart_creates + ["DeleteRoute"] * restart_deletes, restart_calls
        for daemon, _key in self.daemons:
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


def kill_while_held(scenario, daemon, action, nth, refuse=False, state_file_path=None):
    """Kill while the endpoint holds the daemon's ``nth`` ``action`` (once the state file says ``state_file_path``, when given)."""
    wait_until_held(scenario.mlab.endpoint_url, action, nth, refuse=refuse)
    if state_file_path is not None:
        wait_for(lambda: scenario.state_file_path() == state_file_path, 5, "the state file to say %s" % state_file_path, 0.005)
    scenario.kill(daemon)


def kill_while_rounds_fail(scenario, daemon, failed_rounds=3):
    """Kill once a few rounds failed, before the decision (SLOW_DECISION_ROUNDS away)."""
    def failed():
        return (daemon.scrape().value("lz_failover_probe_rounds_failed_total") or 0) >= failed_rounds
    wait_for(failed, 15, "%d failed probe rounds" % failed_rounds, 0.01)
    scenario.kill(daemon)
    assert not daemon.events("transition"), "the kill was meant to land before the decision"


# --------------------------------------------------------------------------- failover (DX cut)

# moment: (the routes of ours the kill leaves, once the endpoint answered every call of the dead daemon;
#          None: any, the kill races the first call)
FAILOVER_MOMENTS = {
    "startup": 0,
    "failing_rounds": 0,
    "after_decision": None,
    "state_written_first_create_refused": 0,
    "first_create_lands_after_the_kill": 1,
    "between_creates": 1,
    "second_create_lands_after_the_kill": 2,
    "both_creates_in_flight": 2,
    "after_converged": 2,
    "state_write_failed": 2,
}


def prepare_failover(scenario, moment):
    """Set the endpoint's holds (and the state file's trap) for ``moment``, before the DX cut."""
    if moment == "state_written_first_create_refused":
        scenario.hold("CreateRoute", 1, refuse=True)
    elif moment == "first_create_lands_after_the_kill":
        scenario.hold("CreateRoute", 1)
    elif moment == "between_creates":
        scenario.hold("CreateRoute", 2, refuse=True)
    elif moment == "second_create_lands_after_the_kill":
        scenario.hold("CreateRoute", 2)
    elif moment == "both_creates_in_flight":
        put_fault(scenario.mlab.endpoint_url, "CreateRoute", None, delay_ms=HELD_CALL_MS, count=2)
    elif moment == "state_write_failed":
        # The file as the start-up wrote it (DX) is kept aside, and a plain file where its
        # directory was makes the transition's write fail (state_file_write_failed).
        wait_for(lambda: scenario.state_file_path() == "dx", 5, "the start-up's state file", 0.02)
        os.rename(scenario.state_dir, scenario.state_dir + ".aside")
        with open(scenario.state_dir, "w", encoding="utf-8"):
            pass


def kill_during_failover(scenario, daemon, moment):
    """Kill ``daemon`` at ``moment`` of the failover that the DX cut just started."""
    if moment == "failing_rounds":
        kill_while_rounds_fail(scenario, daemon)
    elif moment == "after_decision":
        kill_when_logged(scenario, daemon, "transition", to_path="vpn")
    elif moment == "state_written_first_create_refused":
        kill_while_held(scenario, daemon, "CreateRoute", 1, refuse=True, state_file_path="vpn")
    elif moment == "first_create_lands_after_the_kill":
        kill_while_held(scenario, daemon, "CreateRoute", 1)
    elif moment in ("between_creates", "second_create_lands_after_the_kill"):
        kill_while_held(scenario, daemon, "CreateRoute", 2, refuse=moment == "between_creates")
    elif moment == "both_creates_in_flight":
        kill_while_held(scenario, daemon, "CreateRoute", 2)
    elif moment == "after_converged":
        kill_when_logged(scenario, daemon, "routes_converged", path="vpn")
    elif moment == "state_write_failed":
        daemon.wait_for_event("state_file_write_failed", timeout=15)
        kill_when_logged(scenario, daemon, "routes_converged", path="vpn")
        os.unlink(scenario.state_dir)
        os.rename(scenario.state_dir + ".aside", scenario.state_dir)
    else:
        raise AssertionError("unknown moment %s" % moment)


@pytest.mark.parametrize("moment", list(FAILOVER_MOMENTS))
def test_sigkill_during_failover_then_restart_converges_to_vpn(mlab, moment):
    overrides = {"policy": {"hard_failure_rounds": SLOW_DECISION_ROUNDS}} if moment == "failing_rounds" else {}
    if moment == "both_creates_in_flight":
        overrides["api"] = {"max_parallel_calls": 8}  # the default: both creates go out together
    scenario = Scenario(mlab, **overrides)
    scenario.begin_counting()
    if moment == "startup":
        mlab.set_dx(up=False)
        daemon = scenario.start()
        kill_when_logged(scenario, daemon, "starting")
    else:
        daemon = scenario.start()
        daemon.wait_for_event("routes_converged", timeout=15)
        prepare_failover(scenario, moment)
        mlab.set_dx(up=False)
        kill_during_failover(scenario, daemon, moment)

    # The kill landed where it was meant to.
    left = scenario.owned_routes()
    assert FAILOVER_MOMENTS[moment] in (None, left), "killed at %s, the tables hold %d routes of ours" % (moment, left)
    if moment == "state_written_first_create_refused":
        assert scenario.state_file_path() == "vpn", "the file says VPN, the tables DX: the restart must trust the tables"
    if moment == "state_write_failed":
        assert scenario.state_file_path() == "dx", "the file says DX, the tables VPN: the restart must trust the tables"
    if moment == "startup":
        assert scenario.route_calls(scenario.daemons[0][1]) == []

    restarted, owned = scenario.restart()
    wait_for(scenario.on_vpn, 15 + SLOW_DECISION_ROUNDS * 0.1, "the restarted daemon to converge on the VPN", 0.05)
    scenario.wait_for_a_reconcile_read(restarted, scenario.daemons[-1][1])
    scenario.assert_clean(restart_creates=2 - owned)
    restarted.assert_running()


# --------------------------------------------------------------------------- failback (DX restored)

FAILBACK_MOMENTS = {"after_decision": None, "first_delete_lands_after_the_kill": 1, "between_deletes": 1}


@pytest.mark.parametrize("moment", list(FAILBACK_MOMENTS))
def test_sigkill_during_failback_then_restart_converges_to_dx(mlab, moment):
    scenario = Scenario(mlab, policy=FAILBACK_HOLD)
    scenario.put_on_vpn()
    scenario.begin_counting()
    if moment == "first_delete_lands_after_the_kill":
        scenario.hold("DeleteRoute", 1)
    elif moment == "between_deletes":
        scenario.hold("DeleteRoute", 2, refuse=True)
    daemon = scenario.start()
    assert daemon.wait_for_event("initial_path", timeout=15)["path"] == "vpn"
    if moment == "after_decision":
        kill_when_logged(scenario, daemon, "transition", to_path="dx")
    else:
        kill_while_held(scenario, daemon, "DeleteRoute", 1 if moment.startswith("first") else 2, refuse=moment == "between_deletes")
    left = scenario.owned_routes()
    assert FAILBACK_MOMENTS[moment] in (None, left), "killed at %s, the tables hold %d routes of ours" % (moment, left)

    restarted, owned = scenario.restart()
    wait_for(scenario.on_dx, 15, "the restarted daemon to converge on DX", 0.05)
    scenario.wait_for_a_reconcile_read(restarted, scenario.daemons[-1][1])
    # A restart that finds the failback half done (mixed) treats it as VPN and completes that
    # first (the one missing create), then fails back after the hold (both deletes).
    scenario.assert_clean(restart_creates=(2 - owned) if owned else 0, restart_deletes=2 if owned else 0)
    restarted.assert_running()


def test_sigkill_during_a_slow_startup_read_then_restart_keeps_the_vpn_path(mlab):
    """Killed while reading the tables at start-up: the restart learns VPN and makes no change while DX is down."""
    scenario = Scenario(mlab)
    scenario.put_on_vpn()
    mlab.set_dx(up=False)
    scenario.begin_counting()
    put_fault(mlab.endpoint_url, "DescribeNetworkInterfaces", None, delay_ms=HELD_CALL_MS, count=1)
    daemon = scenario.start()
    wait_for(lambda: get_fault_stats(mlab.endpoint_url)["delayed"].get("DescribeNetworkInterfaces", 0) >= 1, 15, "the held read", 0.01)
    scenario.kill(daemon)

    restarted, _owned = scenario.restart()
    scenario.wait_for_a_reconcile_read(restarted, scenario.daemons[-1][1])
    assert scenario.on_vpn()
    scenario.assert_clean(restart_creates=0)
