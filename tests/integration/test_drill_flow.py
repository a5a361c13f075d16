# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's probe flow (roles/drill/files/lz-drill-flow) between real namespaces, read by the drill's analysis.

Two hosts, A (the workload) and B (on premises), joined twice: directly (the short
path) and through a router namespace R (one routed hop more). The test breaks one
direction with nftables for a known time, moves one direction to the longer path,
and checks that the analysis pins each effect on the right direction: the outage
only where the drop was, the TTL change only where the path changed.
"""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.drill.outages import analyse_direction
from ansible_collections.localzones.failover.plugins.module_utils.drill.parse import parse_flow_log
from harness.netns import PYTHON
from harness.paths import REPO_ROOT

pytestmark = pytest.mark.netns

FLOW = os.path.join(REPO_ROOT, "roles", "drill", "files", "lz-drill-flow")
INTERVAL_S = 0.02
A_SHORT, B_SHORT = "198.18.60.1", "198.18.60.2"
A_LONG, R_A, R_B, B_LONG = "198.18.61.1", "198.18.61.2", "198.18.62.1", "198.18.62.2"
DROP_S = 1.0
# How late a loaded machine may run the flow's sender past a change the test bracketed: measured
# at most 0.018 s (load 4) and 0.011 s (beside a CPU hog, load 7); the test prints it.
SLACK_S = 0.25


def build_two_paths(lab):
    """A and B with a direct link and a path through R; traffic starts on the direct link."""
    ns_a, ns_b, ns_r = lab.add_namespace("flowa"), lab.add_namespace("flowb"), lab.add_namespace("flowr")
    lab.veth(ns_a, ns_b, "short", "short")
    lab.add_address(ns_a, "short", A_SHORT + "/30")
    lab.add_address(ns_b, "short", B_SHORT + "/30")
    lab.veth(ns_a, ns_r, "long", "ra")
    lab.veth(ns_r, ns_b, "rb", "long")
    lab.add_address(ns_a, "long", A_LONG + "/30")
    lab.add_address(ns_r, "ra", R_A + "/30")
    lab.add_address(ns_r, "rb", R_B + "/30")
    lab.add_address(ns_b, "long", B_LONG + "/30")
    lab.sysctl(ns_r, "net.ipv4.ip_forward", "1")
    # B receives A's datagrams on either link whatever its own route back is: no reverse-path filter.
    for key in ("all", "long"):
        lab.sysctl(ns_b, "net.ipv4.conf.%s.rp_filter" % key, "0")
    # B's flow address is reached from A over either link; A's answers go back the way B routes them.
    lab.add_loopback_address(ns_b, "198.18.63.10")
    lab.add_loopback_address(ns_a, "198.18.63.1")
    lab.add_route(ns_a, "198.18.63.10/32", via=B_SHORT)
    lab.add_route(ns_b, "198.18.63.1/32", via=A_SHORT)
    lab.add_route(ns_r, "198.18.63.10/32", via=B_LONG)
    lab.add_route(ns_r, "198.18.63.1/32", via=A_LONG)
    return ns_a, ns_b


def start_flow(lab, ns, address, peer, output, stop_file):
    argv = [PYTHON, FLOW, "--address", address, "--peer", peer, "--interval", str(INTERVAL_S), "--max-duration", "60",
            "--stop-file", stop_file, "--output", output]
    return lab.spawn_in(ns, argv)


def read_log(path):
    with open(path, encoding="utf-8") as handle:
        return parse_flow_log(handle.read().splitlines())


def test_each_direction_shows_only_its_own_outage_and_path_change(netns_lab, tmp_path):
    ns_a, ns_b = build_two_paths(netns_lab)
    log_a, log_b, stop = str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), str(tmp_path / "stop")
    flows = [start_flow(netns_lab, ns_a, "198.18.63.1", "198.18.63.10", log_a, stop),
             start_flow(netns_lab, ns_b, "198.18.63.10", "198.18.63.1", log_b, stop)]
    time.sleep(1.0)

    # A -> B loses everything for DROP_S: only that direction. Each change is bracketed by the
    # times before and after its command, so the checks hold however slow the command was.
    drop_started = time.time()
    netns_lab.run_in(ns_a, ["nft", "-f", "-"], input_text=(
        "table inet flowdrop {\n chain out {\n type filter hook output priority 0; policy accept;\n udp dport 47000 drop\n }\n}\n"))
    dropped_at = time.time()
    time.sleep(DROP_S)
    restore_started = time.time()
    netns_lab.run_in(ns_a, ["nft", "delete", "table", "inet", "flowdrop"])
    restored_at = time.time()
    time.sleep(0.5)

    # A -> B moves to the path through R (one hop more); B -> A stays on the direct link.
    move_started = time.time()
    netns_lab.run_in(ns_a, ["ip", "route", "replace", "198.18.63.10/32", "via", R_A])
    moved_at = time.time()
    time.sleep(1.0)

    open(stop, "w", encoding="utf-8").close()
    for flow in flows:
        assert flow.wait(timeout=10) == 0
    sender_a, sender_b = read_log(log_a), read_log(log_b)

    forward, _points = analyse_direction("A -> B", sender_a, sender_b, origin=dropped_at)
    backward, _points = analyse_direction("B -> A", sender_b, sender_a, origin=dropped_at)

    assert len(forward["loss_windows"]) == 1
    assert forward["recovered"]
    assert backward["lost"] == 0 and backward["loss_windows"] == []
    assert forward["ttl"]["baseline_ttl"] == 64
    assert [(change["from_ttl"], change["to_ttl"]) for change in forward["ttl"]["changes"]] == [(64, 63)]
    assert not backward["ttl"]["distinguishable"]
    assert sender_a.end["ended_by"] == sender_b.end["ended_by"] == "stop_file"

    print("past the end of their brackets: outage start %+.3f s, outage end %+.3f s, path change %+.3f s" % (
        forward["loss_windows"][0]["start"] - dropped_at, forward["longest_outage_s"] - (restored_at - drop_started),
        forward["ttl"]["changes"][0]["time"] - moved_at))
    # Where the analysis puts the outage and the path change: inside the brackets of their commands.
    assert drop_started - INTERVAL_S <= forward["loss_windows"][0]["start"] <= dropped_at + SLACK_S, (drop_started, dropped_at, forward)
    assert restore_started - dropped_at - 2 * INTERVAL_S <= forward["longest_outage_s"] <= restored_at - drop_started + SLACK_S, forward
    assert move_started - INTERVAL_S <= forward["ttl"]["changes"][0]["time"] <= moved_at + SLACK_S, (move_started, moved_at, forward["ttl"])


def test_the_flow_ends_by_itself_and_keeps_its_log_private(netns_lab, tmp_path):
    ns_a, _ns_b = build_two_paths(netns_lab)
    log_a = str(tmp_path / "a.jsonl")
    flow = netns_lab.spawn_in(ns_a, [PYTHON, FLOW, "--address", "198.18.63.1", "--peer", "198.18.63.10", "--max-duration", "1",
                                     "--output", log_a])
    assert flow.wait(timeout=10) == 0, "the flow did not end by itself within 10 s of a 1 s maximum"
    assert os.stat(log_a).st_mode & 0o777 == 0o600
    log = read_log(log_a)
    assert log.end["ended_by"] == "max_duration"
    # Nothing answers in B: every datagram was sent, none received.
    assert log.end["sent"] >= 40 and log.end["received"] == 0
