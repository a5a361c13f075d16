# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIGTERM while the daemon is on the VPN: it stops, the routes it made stay, a restart adopts them.

monitor/README.md: "SIGTERM/SIGINT stop without touching routes", exit code 0 ("stopped by
SIGTERM/SIGINT"), and with a coordination table "SIGTERM releases the lease
(``lease_released``: ``expires_at`` = now, after the actuator stopped)". Stopping is not
failing back: the static routes to the appliance stay whether DX is still down or already
back, and the next daemon learns the VPN path from them and changes nothing.

The daemon runs as a real process in the namespaces of harness/monitor.py (real ICMP, the
local endpoint). Each run signs with its own access key, so the endpoint's request log
(``/_fidelity/requests``, tools/endpoint/request_log.py) says which run made every call and
when, on the endpoint's clock (the same host's as the test's).

What makes these tests fail (each checked by breaking the code locally, not committed):

* a stop that fails back (``_stop_components`` calling ``actuator.set_desired("dx")`` before
  ``actuator.stop()``): the routes gone, DeleteRoute calls after the signal (the on-VPN tests);
* a restart that does not trust the tables (``_start_state_machine_when_path_known``
  starting on DX): ``initial_path`` not vpn, and it would delete the routes;
* a holder that does not release on SIGTERM (no ``coordinator.stop()``): no
  ``lease_released``, the lease item still running;
* the release before the actuator stopped (``coordinator.stop()`` first): the release
  is sent while the held route call is in flight (the ``half_made`` test).

A route call still in flight after the stop's waits is not released over: the lease is left
to run out (``lease_left_to_expire``); the ``longer`` case. Without the wait in
``Coordinator.release`` the ``within_the_release_wait`` case fails (the release is sent
while the held call is in flight).
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import time

import pytest

from harness.monitor import ROUTE_CHANGING_ACTIONS
from harness.monitor import all_routes
from harness.monitor import caller_requests
from harness.monitor import hold_nth_request
from harness.monitor import wait_until_held
from harness.monitor import static_routes
from harness.waiting import wait_for
from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client

pytestmark = [pytest.mark.netns, pytest.mark.moto]

FIRST_RUN_KEY = "AKIASIGTERMFIRSTRUN0"
RESTART_KEY = "AKIASIGTERMRESTARTED"
# Long enough that a restored DX never ends the hold while the test runs: every route call seen is a stop's or a restart's.
LONG_HOLD = {"failback_hold_s": 60, "dampening_max_hold_s": 60}
# The restart's reconcile read, which the adoption checks wait for, comes this soon after it converged.
RECONCILE_INTERVAL_S = 1
TABLE = "lz-failover-coordination"
GROUP = "sigterm-test"
MONITOR_ID = "monitor-a"
# A short lease keeps the test quick; the same numbers as test_monitor_pair.py.
COORDINATION = {"table": TABLE, "failover_group": GROUP, "monitor_id": MONITOR_ID, "lease_s": 2.0, "renew_interval_s": 0.25,
                "max_clock_skew_s": 0.25}


def on_vpn(mlab, world):
    return static_routes(mlab.ec2(), world.prod_rtb_id) == {destination: world.vpn_eni_id for destination in world.onprem_cidrs}


def route_calls(mlab, access_key_id):
    return caller_requests(mlab.endpoint_url, access_key_id, ROUTE_CHANGING_ACTIONS)


def summary(calls):
    return sorted((entry["action"], entry["status"]) for entry in calls)


def fail_over(mlab, world, config_path):
    """Start the first run on DX, cut DX and return it once the routes to the appliance are made."""
    daemon = mlab.start_daemon(config_path, name="first", access_key_id=FIRST_RUN_KEY)
    daemon.wait_for_event("routes_converged", path="dx", timeout=15)
    mlab.set_dx(up=False)
    wait_for(lambda: on_vpn(mlab, world), 10, "the failover", 0.02)
    daemon.wait_for_event("routes_converged", path="vpn")
    assert summary(route_calls(mlab, FIRST_RUN_KEY)) == [("CreateRoute", 200)] * 2
    return daemon


def restore_dx_within_the_hold(mlab, daemon):
    """DX comes back: rounds pass again, and the long hold keeps the routes on the VPN."""
    mlab.set_dx(up=True)
    rounds = daemon.scrape().value("lz_failover_probe_rounds_total") or 0
    wait_for(lambda: daemon.scrape().value("lz_failover_probe_rounds_total") >= rounds + 5, 10, "rounds on the restored DX", 0.1)


def stop_with_sigterm(daemon):
    """SIGTERM; return the wall time just before it was sent, once the daemon exited with the documented code 0."""
    signalled_at = time.time()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0, daemon.log_tail()
    assert daemon.events("stopping")[0]["signal"] == "SIGTERM"
    return signalled_at


def assert_no_route_call_after(mlab, access_key_id, signalled_at):
    late = [entry for entry in route_calls(mlab, access_key_id) if entry["start"] >= signalled_at or entry["end"] >= signalled_at]
    assert late == [], "route calls after SIGTERM: %s" % late


def restart_and_assert_it_adopts_the_routes(mlab, world, config_path, writer_event=None):
    """A new run learns the VPN path from the tables and makes no route call through a reconcile pass; return it.

    ``writer_event``: a log event that makes the new run the writer (``lease_acquired``), waited for first.
    """
    routes_before = all_routes(mlab.ec2(), world.prod_rtb_id)
    restarted = mlab.start_daemon(config_path, name="restarted", access_key_id=RESTART_KEY)
    initial = restarted.wait_for_event("initial_path", timeout=15)
    assert (initial["tables_path"], initial["path"]) == ("vpn", "vpn"), initial
    if writer_event is not None:
        restarted.wait_for_event(writer_event)
    restarted.wait_for_event("routes_converged", path="vpn")
    # One more read of the tables after converging (the reconcile pass, reconcile_interval_s later): a
    # restart that meant to delete or re-create would have done it by then.
    reads = len(caller_requests(mlab.endpoint_url, RESTART_KEY, {"DescribeRouteTables"}))
    wait_for(lambda: len(caller_requests(mlab.endpoint_url, RESTART_KEY, {"DescribeRouteTables"})) > reads, 15, "a reconcile read", 0.1)
    assert route_calls(mlab, RESTART_KEY) == [], "the restart changed routes it should have adopted"
    assert all_routes(mlab.ec2(), world.prod_rtb_id) == routes_before
    assert not restarted.events("route_conflict") and not restarted.events("transition")
    metrics = restarted.scrape()
    assert metrics.value("lz_failover_foreign_routes") == 0, "the restart counts the routes as someone else's"
    assert metrics.value("lz_failover_active_path", path="vpn") == 1 and metrics.value("lz_failover_routes_converged") == 1
    restarted.assert_running()
    return restarted


@pytest.mark.parametrize("dx_when_stopped", ["down", "restored_during_the_hold"])
def test_sigterm_on_the_vpn_leaves_the_routes_and_a_restart_adopts_them(mlab, dx_when_stopped):
    world = mlab.fresh_world()
    config_path = mlab.write_config(mlab.config(world, reconcile_interval_s=RECONCILE_INTERVAL_S, policy=LONG_HOLD))
    daemon = fail_over(mlab, world, config_path)
    if dx_when_stopped == "restored_during_the_hold":
        restore_dx_within_the_hold(mlab, daemon)
    routes_before = all_routes(mlab.ec2(), world.prod_rtb_id)

    signalled_at = stop_with_sigterm(daemon)
    assert daemon.events("stopped")[0]["path"] == "vpn"
    assert all_routes(mlab.ec2(), world.prod_rtb_id) == routes_before, "SIGTERM changed the routes"
    assert_no_route_call_after(mlab, FIRST_RUN_KEY, signalled_at)
    assert summary(route_calls(mlab, FIRST_RUN_KEY)) == [("CreateRoute", 200)] * 2
    assert [event["to_path"] for event in daemon.events("transition")] == ["vpn"]
    with open(os.path.join(mlab.workdir, "state.json"), encoding="utf-8") as handle:
        assert json.load(handle)["desired_path"] == "vpn"

    restart_and_assert_it_adopts_the_routes(mlab, world, config_path)


def lease_item(mlab, world):
    item = dynamodb_client(mlab.endpoint_url, world.region).get_item(TableName=TABLE, Key=schema.key(GROUP, schema.LEASE_RECORD))["Item"]
    return item[schema.HOLDER]["S"], int(item[schema.FENCING]["N"]), float(item[schema.EXPIRES_AT]["N"])


def test_sigterm_of_the_lease_holder_on_the_vpn_releases_the_lease_after_its_last_route_call(mlab):
    world = mlab.fresh_world()
    create_coordination_table(dynamodb_client(mlab.endpoint_url, world.region), TABLE)
    config_path = mlab.write_config(mlab.config(world, reconcile_interval_s=RECONCILE_INTERVAL_S, policy=LONG_HOLD, coordination=COORDINATION,
                                                api={"connect_timeout_s": 0.5}))
    daemon = mlab.start_daemon(config_path, name="holder", access_key_id=FIRST_RUN_KEY)
    assert daemon.wait_for_event("lease_acquired", timeout=15)["fencing"] == 1
    daemon.wait_for_event("routes_converged", path="dx")
    mlab.set_dx(up=False)
    wait_for(lambda: on_vpn(mlab, world), 10, "the holder to fail over", 0.02)
    daemon.wait_for_event("routes_converged", path="vpn")
    routes_before = all_routes(mlab.ec2(), world.prod_rtb_id)

    signalled_at = stop_with_sigterm(daemon)
    assert daemon.events("lease_released")[0]["fencing"] == 1
    assert daemon.events("stopped")[0]["path"] == "vpn"
    assert all_routes(mlab.ec2(), world.prod_rtb_id) == routes_before, "SIGTERM changed the routes"
    assert_no_route_call_after(mlab, FIRST_RUN_KEY, signalled_at)
    holder, fencing, expires_at = lease_item(mlab, world)
    # Released, not abandoned: it expires at the moment of the release, so another monitor may take it at once.
    assert (holder, fencing) == (MONITOR_ID, 1) and signalled_at <= expires_at <= time.time(), (holder, fencing, expires_at, signalled_at)
    # The release is the holder's last lease write, sent after its last route call had ended (the actuator stopped first).
    lease_writes = caller_requests(mlab.endpoint_url, FIRST_RUN_KEY, {"UpdateItem"}, service="dynamodb")
    release = [entry for entry in lease_writes if entry["status"] == 200][-1]
    assert release["start"] >= signalled_at
    assert all(entry["end"] <= release["start"] for entry in route_calls(mlab, FIRST_RUN_KEY))

    # The same monitor restarted takes the lease at once and, as the writer, still changes nothing.
    restarted = restart_and_assert_it_adopts_the_routes(mlab, world, config_path, writer_event="lease_acquired")
    assert restarted.scrape().value("lz_failover_lease_holder") == 1


# How long the second CreateRoute is held at the endpoint, and whether the stop then releases the lease:
# within the 1 s Actuator.stop waits; past it but within the release's own wait (RELEASE_WAIT_S, 2 s), so the
# release comes after the call; past both, so the lease is left to run out (lease_left_to_expire).
HELD_CALLS = [(600, True), (2000, True), (4500, False)]


@pytest.mark.parametrize("held_call_ms,released", HELD_CALLS, ids=["within_the_stop", "within_the_release_wait", "longer"])
def test_sigterm_of_the_lease_holder_during_the_failover_leaves_the_half_made_routes_for_the_restart(mlab, held_call_ms, released):
    """SIGTERM while the second CreateRoute is in flight: that call ends, no other starts, the lease goes only after it."""
    world = mlab.fresh_world()
    create_coordination_table(dynamodb_client(mlab.endpoint_url, world.region), TABLE)
    # One route call at a time: while the second is held, the first is applied and nothing else is sent.
    # One attempt per call (the default): botocore would retry the refused call by itself, a call after the signal.
    api = {"connect_timeout_s": 0.5, "max_parallel_calls": 1, "max_attempts": 1}
    config_path = mlab.write_config(mlab.config(world, reconcile_interval_s=RECONCILE_INTERVAL_S, policy=LONG_HOLD, coordination=COORDINATION, api=api))
    daemon = mlab.start_daemon(config_path, name="holder", access_key_id=FIRST_RUN_KEY)
    daemon.wait_for_event("lease_acquired", timeout=15)
    daemon.wait_for_event("routes_converged", path="dx")
    # The second create is held, then refused: the stop leaves one route of two.
    hold_nth_request(mlab.endpoint_url, "CreateRoute", 2, held_call_ms, refuse=True)
    mlab.set_dx(up=False)
    wait_until_held(mlab.endpoint_url, "CreateRoute", 2, refuse=True)

    signalled_at = stop_with_sigterm(daemon)
    calls = wait_for(lambda: len(route_calls(mlab, FIRST_RUN_KEY)) >= 2 and route_calls(mlab, FIRST_RUN_KEY), 10, "the held call's answer", 0.05)
    assert summary(calls) == [("CreateRoute", 200), ("CreateRoute", 500)], calls
    assert all(entry["start"] < signalled_at for entry in calls), "a route call started after SIGTERM: %s" % calls
    lease_writes = [entry for entry in caller_requests(mlab.endpoint_url, FIRST_RUN_KEY, {"UpdateItem"}, service="dynamodb")
                    if entry["status"] == 200]
    if released:
        assert daemon.events("lease_released")
        assert all(entry["end"] <= lease_writes[-1]["start"] for entry in calls), "the lease was released while a route call was in flight"
    else:
        # Renewals may go on until the coordinator stops; none is sent once it decided not to release.
        left = daemon.events("lease_left_to_expire")
        assert left and not daemon.events("lease_released")
        decided_at = datetime.datetime.strptime(left[0]["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        assert all(entry["start"] <= decided_at for entry in lease_writes), "a lease write after the decision to let it run out"
    owned = {destination for destination, target in static_routes(mlab.ec2(), world.prod_rtb_id).items() if target == world.vpn_eni_id}
    assert len(owned) == 1, "the stop must leave the half-made change as it is: %s" % owned

    restarted = mlab.start_daemon(config_path, name="restarted", access_key_id=RESTART_KEY)
    initial = restarted.wait_for_event("initial_path", timeout=15)
    assert (initial["tables_path"], initial["path"]) == ("mixed", "vpn"), initial
    wait_for(lambda: on_vpn(mlab, world), 15, "the restart to complete the failover", 0.05)
    restarted.wait_for_event("routes_converged", path="vpn")
    assert summary(route_calls(mlab, RESTART_KEY)) == [("CreateRoute", 200)], "only the missing route is made"
    restarted.assert_running()
