# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two monitors of one failover group as real processes: one writer at a time, shown from the endpoint's request log.

Both daemons run in the daemon namespace of harness/monitor.py, probe the same targets
and share a coordination table (created here, on the endpoint's DynamoDB). Each signs
with an access key of its own, so the endpoint's request log (tools/endpoint/request_log.py)
says which of them made every call, and ``overlapping_writers`` (tools/endpoint/writers.py)
that no two of them ever changed routes at the same time or after a holder change.

A short lease (2 s, renewed every 0.25 s, 0.25 s of clock skew, 0.5 s call margin) keeps
the tests quick. Times are asserted only where they are the behaviour: how soon the
standby takes over from a holder that died, and that a holder cut off from the API made
no route call after its writer window (counted from its last successful renewal, as the
endpoint saw it), with a margin a loaded 2-core machine keeps.
"""

from __future__ import annotations

import time

import pytest

from harness.aws import delete_faults
from harness.aws import get_request_log
from harness.aws import put_fault
from harness.monitor import METRICS_PORT
from harness.monitor import NotificationInbox
from harness.monitor import static_routes
from harness.waiting import wait_for
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client
from tools.endpoint.writers import ROUTE_MUTATIONS
from tools.endpoint.writers import overlapping_writers

pytestmark = [pytest.mark.netns, pytest.mark.moto]

TABLE = "lz-failover-coordination"
GROUP = "pair-test"
LEASE_S = 2.0
RENEW_INTERVAL_S = 0.25
MAX_CLOCK_SKEW_S = 0.25
CALL_MARGIN_S = 0.5  # api.connect_timeout_s: the lease's call margin
# 4 failed rounds of 0.1 s, each waiting up to 0.1 s for its echoes (MonitorLab.config's probe defaults).
DETECTION_S = 0.5
# Room for two Python processes, the endpoint and moto on a loaded 2-core machine. The takeover
# itself is the behaviour (the lease runs out, the standby takes it and fails over): measured
# 2.0-2.2 s with other test runs on the machine (load 4), 2.0-2.4 s beside a CPU hog (load 7);
# the 8 s bound is 3.4x the slowest.
MARGIN_S = 5.0
TAKEOVER_BOUND_S = LEASE_S + RENEW_INTERVAL_S + MAX_CLOCK_SKEW_S + DETECTION_S + MARGIN_S
# Waits for something that must happen: only a broken pair runs out, so a slow run still reaches
# the behaviour checks; the takeover time is judged after them.
BEHAVIOUR_WAIT_S = 30
FAILBACK_HOLD_S = 3  # MonitorLab.config
MONITORS = {
    # monitor_id: (access key id, metrics port)
    "monitor-a": ("AKIAPAIRMONITORA", METRICS_PORT),
    "monitor-b": ("AKIAPAIRMONITORB", METRICS_PORT + 1),
}


class Pair:
    """A fresh world, the coordination table, and the two monitors' configurations and processes."""

    def __init__(self, mlab):
        self.mlab = mlab
        self.world = mlab.fresh_world()
        self.ec2 = mlab.ec2()
        create_coordination_table(dynamodb_client(mlab.endpoint_url, self.world.region), TABLE)
        self.inbox = NotificationInbox(mlab.endpoint_url)  # both monitors publish to one topic, as on AWS
        self.daemons = {}

    def start(self, monitor_id):
        access_key_id, metrics_port = MONITORS[monitor_id]
        document = self.mlab.config(
            self.world,
            coordination={"table": TABLE, "failover_group": GROUP, "monitor_id": monitor_id, "lease_s": LEASE_S,
                          "renew_interval_s": RENEW_INTERVAL_S, "max_clock_skew_s": MAX_CLOCK_SKEW_S},
            api={"connect_timeout_s": CALL_MARGIN_S},
            metrics={"address": self.mlab.address, "port": metrics_port},
            notifications={"sns_topic_arn": self.inbox.topic_arn, "endpoint_url": self.mlab.endpoint_url},
            state_file="%s/state-%s.json" % (self.mlab.workdir, monitor_id),
        )
        config_path = self.mlab.write_config(document, "%s.yaml" % monitor_id)
        daemon = self.mlab.start_daemon(config_path, name=monitor_id, access_key_id=access_key_id, metrics_port=metrics_port)
        self.daemons[monitor_id] = daemon
        daemon.wait_for_event("initial_path", timeout=20)
        return daemon

    def start_holder_and_standby(self):
        """monitor-a takes the lease first; monitor-b then runs as its standby."""
        holder = self.start("monitor-a")
        acquired = holder.wait_for_event("lease_acquired", timeout=10)
        assert acquired["fencing"] == 1, acquired
        standby = self.start("monitor-b")
        wait_for(lambda: standby.scrape().value("lz_failover_lease_fencing") == 1, 10, "the standby to read the lease", 0.05)
        assert standby.scrape().value("lz_failover_lease_holder") == 0
        wait_for(lambda: holder.scrape().value("lz_failover_lease_holder") == 1, 5, "the holder to report itself the writer", 0.05)
        return holder, standby

    # -- the tables

    def on_vpn(self):
        return static_routes(self.ec2, self.world.prod_rtb_id) == {destination: self.world.vpn_eni_id for destination in self.world.onprem_cidrs}

    def on_dx(self):
        return static_routes(self.ec2, self.world.prod_rtb_id) == {}

    # -- the request log

    def requests(self):
        log = get_request_log(self.mlab.endpoint_url)
        assert log["dropped"] == 0, "the request log lost records: it no longer proves anything"
        return log["requests"]

    def route_calls(self, requests, monitor_id):
        key = MONITORS[monitor_id][0]
        return [entry for entry in requests if entry["access_key_id"] == key and entry["service"] == "ec2" and entry["action"] in ROUTE_MUTATIONS]

    @staticmethod
    def table_calls(requests, monitor_id, action):
        """``monitor_id``'s successful DynamoDB ``action`` calls in order (UpdateItem: lease writes; Query: group reads)."""
        key = MONITORS[monitor_id][0]
        calls = [entry for entry in requests if entry["access_key_id"] == key and entry["service"] == "dynamodb"
                 and entry["action"] == action and entry["status"] == 200]
        return sorted(calls, key=lambda entry: entry["start"])

    def last_lease_write(self, requests, monitor_id):
        """The last lease write of ``monitor_id`` that succeeded, as the endpoint saw it."""
        return self.table_calls(requests, monitor_id, "UpdateItem")[-1]

    def assert_taken_after_expiry(self, requests, old, new):
        """The new holder's first lease write came after the old holder's lease had run out.

        The old holder's last write set ``expires_at`` = its wall clock when it made the
        call + lease_s, read after the group read (Query) of the same round was answered;
        so ``expires_at`` >= that Query's end + lease_s (one host: one clock for all).
        """
        last_write = self.last_lease_write(requests, old)
        its_read = [entry for entry in self.table_calls(requests, old, "Query") if entry["end"] <= last_write["start"]][-1]
        first_write = self.table_calls(requests, new, "UpdateItem")[0]
        assert first_write["start"] > its_read["end"] + LEASE_S, (its_read, last_write, first_write)

    def assert_one_writer_at_a_time(self):
        conflicts = overlapping_writers(self.requests(), ROUTE_MUTATIONS)
        assert conflicts == [], "two monitors changed routes at once or across a holder change: %s" % (conflicts,)


def summary(calls):
    return sorted((entry["action"], entry["status"]) for entry in calls)


# --------------------------------------------------------------------------- the holder dies


def test_holder_killed_during_a_dx_outage_the_standby_takes_the_lease_and_fails_over(mlab):
    pair = Pair(mlab)
    holder, standby = pair.start_holder_and_standby()

    # While both are alive and both see DX fail and come back, only the holder changes routes.
    mlab.set_dx(up=False)
    wait_for(pair.on_vpn, 10, "the holder to fail over", 0.02)
    holder.wait_for_event("routes_converged", path="vpn")
    before_restore = holder.mark()  # the holder logged routes_converged on DX at start already
    mlab.set_dx(up=True)
    wait_for(pair.on_dx, FAILBACK_HOLD_S + 10, "the holder to fail back", 0.02)
    holder.wait_for_event("routes_converged", since=before_restore, path="dx")
    standby.wait_for_event("transition", to_path="dx")  # the standby followed DX both ways
    before_kill = pair.requests()
    assert summary(pair.route_calls(before_kill, "monitor-b")) == [], "the standby changed routes"
    # One message per transition, from the holder: the standby decided the same and published nothing.
    messages = wait_for(lambda: len(pair.inbox.receive()) >= 2 and pair.inbox.messages, 10, "the holder's two notifications", 0.1)
    assert [(message["event"], message["to"], message["monitor_id"]) for message in messages] == [
        ("transition", "vpn", "monitor-a"), ("transition", "dx", "monitor-a")]
    assert summary(pair.route_calls(before_kill, "monitor-a")) == [("CreateRoute", 200)] * 2 + [("DeleteRoute", 200)] * 2

    # DX cut and the holder's host gone at the same moment.
    # The standby observed the holder's failover above and logged its own routes_converged for it:
    # wait for the one after the kill.
    before_kill_log = standby.mark()
    mlab.set_dx(up=False)
    holder.kill()
    killed_at = time.time()
    wait_for(pair.on_vpn, BEHAVIOUR_WAIT_S, "the standby to fail over", 0.02)
    took_over_s = time.time() - killed_at

    acquired = standby.wait_for_event("lease_acquired")
    assert acquired["fencing"] == 2, "a new holder has the next fencing number: %s" % acquired
    standby.wait_for_event("routes_converged", since=before_kill_log, path="vpn")
    requests = pair.requests()
    assert summary(pair.route_calls(requests, "monitor-b")) == [("CreateRoute", 200)] * 2
    assert all(entry["end"] <= killed_at for entry in pair.route_calls(requests, "monitor-a"))
    pair.assert_taken_after_expiry(requests, "monitor-a", "monitor-b")
    pair.assert_one_writer_at_a_time()
    # The standby's own dx -> vpn came while it was not the writer: the takeover is what the operator hears.
    takeover = wait_for(lambda: len(pair.inbox.receive()) >= 3 and pair.inbox.messages[2:], 10, "the takeover notification", 0.1)
    assert [(message["event"], message["monitor_id"], message["taken_from"], message["fencing"], message["routes_path"])
            for message in takeover] == [("lease_acquired", "monitor-b", "monitor-a", 2, "vpn")]
    standby.assert_running()
    print("takeover: routes on the VPN path %.2f s after the kill" % took_over_s)
    assert took_over_s <= TAKEOVER_BOUND_S, "the routes reached the VPN path %.1f s after the kill" % took_over_s


# --------------------------------------------------------------------------- the holder is cut off from the API


@pytest.mark.parametrize("cut", ["whole_api", "table_while_retrying_routes"])
def test_holder_cut_off_from_the_api_stops_writing_and_the_standby_takes_over(mlab, cut):
    """``whole_api``: the holder loses EC2 and DynamoDB alike (not its probes) as DX fails.
    ``table_while_retrying_routes``: the holder is retrying route calls the API refuses when
    it loses the table: it must give up at the end of its writer window, not at its next success.
    """
    pair = Pair(mlab)
    holder, standby = pair.start_holder_and_standby()
    holder_key = MONITORS["monitor-a"][0]
    if cut == "whole_api":
        put_fault(mlab.endpoint_url, "*", "ServiceUnavailable", count=-1, access_key_id=holder_key, service="*")
        cut_at = time.time()
        mlab.set_dx(up=False)
    else:
        put_fault(mlab.endpoint_url, "CreateRoute", "Unavailable", count=-1, access_key_id=holder_key)
        mlab.set_dx(up=False)
        wait_for(lambda: pair.route_calls(pair.requests(), "monitor-a"), 10, "the holder's first refused route call", 0.02)
        put_fault(mlab.endpoint_url, "*", "ServiceUnavailable", count=-1, access_key_id=holder_key, service="dynamodb")
        cut_at = time.time()
    wait_for(pair.on_vpn, BEHAVIOUR_WAIT_S, "the standby to fail over", 0.02)
    took_over_s = time.time() - cut_at
    assert standby.wait_for_event("lease_acquired")["fencing"] == 2
    standby.wait_for_event("routes_converged", path="vpn")

    # The endpoint's side first.
    requests = pair.requests()
    last_renewal = pair.last_lease_write(requests, "monitor-a")
    assert last_renewal["start"] <= cut_at
    # writer_until = sent_at + lease_s - skew - call margin, sent_at before the endpoint saw the renewal;
    # a call started before it has landed within the call margin.
    writer_until = last_renewal["start"] + LEASE_S - MAX_CLOCK_SKEW_S - CALL_MARGIN_S
    holder_calls = pair.route_calls(requests, "monitor-a")
    late = [entry for entry in holder_calls if entry["end"] > writer_until + CALL_MARGIN_S]
    assert late == [], "the holder cut off from the API made route calls after its writer window: %s" % late
    assert all(entry["status"] == 503 for entry in holder_calls), "every call of the cut-off holder was refused: %s" % holder_calls
    if cut == "table_while_retrying_routes":
        assert holder_calls, "the holder was retrying route calls when it lost the table"
    assert summary(pair.route_calls(requests, "monitor-b")) == [("CreateRoute", 200)] * 2
    pair.assert_taken_after_expiry(requests, "monitor-a", "monitor-b")
    pair.assert_one_writer_at_a_time()
    assert holder.wait_for_event("lease_lost")["fencing"] == 1

    # Back on the API, the old holder finds the lease taken: a standby, no route call.
    delete_faults(mlab.endpoint_url)
    wait_for(lambda: holder.scrape().value("lz_failover_lease_fencing") == 2, 10, "the old holder to read the new lease", 0.05)
    time.sleep(4 * RENEW_INTERVAL_S)
    assert holder.scrape().value("lz_failover_lease_holder") == 0
    assert pair.route_calls(pair.requests(), "monitor-a") == holder_calls
    pair.assert_one_writer_at_a_time()
    holder.assert_running()
    standby.assert_running()
    print("takeover: routes on the VPN path %.2f s after the cut-off" % took_over_s)
    assert took_over_s <= TAKEOVER_BOUND_S, "the routes reached the VPN path %.1f s after the holder was cut off" % took_over_s
