# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real ICMP between network namespaces: module_utils/probing (kind icmp) and the icmp_probe module.

The prober always runs inside the prober namespace of a ``netns_pair`` (a child Python
started with ``ip netns exec``); targets live on the target namespace's loopback. Loss,
silence and ICMP errors are produced with nftables in the target namespace.
"""

from __future__ import annotations

import json
import os

import pytest

from harness.paths import COLLECTIONS_ROOT
from harness.paths import REPO_ROOT

pytestmark = pytest.mark.netns

# Times are the behaviour here only where the alternative is far slower: echoes that overlap
# against echoes one after the other, an error reply against the timeout, one timeout for all
# dead targets against one each. Each bound lies at least 3x above what a loaded 2-core machine
# measured (below; the tests print it) and well below the slow alternative; the behaviour checks
# come first.
# Rounds that ended with the last reply: measured at most 6 ms with other test runs on the machine
# (load 4), 16 ms beside a CPU hog (load 7); half the 1 s timeout a round waiting for it would take.
ANSWERED_ROUND_BOUND_S = 0.5
# An ICMP error ends an echo at once (2 ms, loaded or not): half the 2 s timeout it would otherwise wait.
ERROR_REPLY_TIMEOUT_S = 2.0

# Root's uid without any capability (see netns.as_user) and the nogroup gid: it cannot open
# raw sockets, and may open ping sockets only when ping_group_range lets nogroup in.
UNPRIVILEGED = (0, 65534)

# Runs inside the prober namespace. argv[1] is a JSON request:
#   {"mode": "run", "settings": {...ProbeSettings fields...}}
#   {"mode": "rounds", "targets": [...], "timeout": s, "rounds": n, "privileged": bool, "source": ip|null, "echoes": n}
# It prints one JSON document: the report / the rounds (each round's echoes, target by target), or the error the probe raised.
DRIVER = r"""
import json, os, sys, time
from ansible_collections.localzones.failover.plugins.module_utils.probing import icmp, prober_for
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError

request = json.loads(sys.argv[1])


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def rounds():
    options = dict(source=request.get("source"), privileged=request.get("privileged", True), timeout=request["timeout"], echoes=request.get("echoes", 1))
    with prober_for("icmp", request["targets"], **options) as prober:
        fds_before = open_fds()
        done = []
        for _ in range(request["rounds"]):
            started = time.monotonic()
            results = prober.round()
            done.append({"duration_s": time.monotonic() - started,
                         "echoes": [{"address": e.address, "sequence": e.sequence, "rtt_ms": e.rtt_ms, "error": e.error}
                                    for target_echoes in results for e in target_echoes]})
        return {"rounds": done, "fds_before": fds_before, "fds_after": open_fds()}


try:
    if request["mode"] == "run":
        settings = request["settings"]
        settings["targets"] = tuple(settings["targets"])
        result = icmp.run_probe(icmp.ProbeSettings(**settings)).as_dict()
    else:
        result = rounds()
except FailoverError as exc:
    result = {"error": type(exc).__name__, "message": exc.message}
print(json.dumps(result))
"""


def _drive(pair, request, user=None):
    completed = pair.run_python(DRIVER, [json.dumps(request)], user=user, timeout=120)
    return json.loads(completed.stdout)


def run_probe_in(pair, user=None, **settings):
    return _drive(pair, {"mode": "run", "settings": settings}, user=user)


def rounds_in(pair, targets, timeout, rounds=3, **options):
    return _drive(pair, dict(options, mode="rounds", targets=targets, timeout=timeout, rounds=rounds))


def print_round_times(what, result):
    print("%s: rounds of %s s" % (what, ", ".join("%.3f" % done["duration_s"] for done in result["rounds"])))


def by_address(report):
    return {stats["address"]: stats for stats in report["targets"]}


# --------------------------------------------------------------------------- one-shot probe


def test_answering_targets_are_healthy(netns_pair):
    first = netns_pair.add_target("198.18.1.1")
    second = netns_pair.add_target("198.18.1.2")
    report = run_probe_in(netns_pair, targets=[first, second], count=4, interval=0.05, timeout=1.0)
    assert report["healthy"] is True and report["healthy_targets"] == 2
    for stats in report["targets"]:
        assert (stats["sent"], stats["received"], stats["loss_pct"]) == (4, 4, 0.0)
        assert 0 < stats["rtt_min_ms"] <= stats["rtt_avg_ms"] <= stats["rtt_max_ms"] < 1000  # below the timeout: a reply after it is loss
        assert stats["jitter_ms"] is not None and stats["jitter_ms"] >= 0
        assert stats["healthy"] is True and stats["last_error"] is None


def test_silent_target_is_full_loss_not_an_error(netns_pair):
    alive = netns_pair.add_target("198.18.1.1")
    silent = netns_pair.add_target("198.18.1.2")
    netns_pair.lab.drop_icmp(netns_pair.target, silent)
    count, interval, timeout = 8, 0.02, 0.3
    report = run_probe_in(netns_pair, targets=[alive, silent], count=count, interval=interval, timeout=timeout)
    stats = by_address(report)
    assert stats[silent]["received"] == 0 and stats[silent]["loss_pct"] == 100.0
    assert stats[silent]["rtt_avg_ms"] is None and stats[silent]["healthy"] is False
    assert stats[silent]["last_error"] == "timeout: no reply within 0.3 s"
    assert stats[alive]["received"] == count
    assert report["healthy"] is True
    # Echoes overlap: seven intervals plus one timeout (0.44 s; measured 0.44-0.45 s, loaded or
    # not), not eight timeouts one after the other (2.4 s, 5x).
    overlapping = (count - 1) * interval + timeout
    print("overlapping echoes: %.3f s" % (report["duration_ms"] / 1000.0))
    assert overlapping <= report["duration_ms"] / 1000.0 < count * timeout, report["duration_ms"]


def test_unroutable_target_is_full_loss_reported_at_once(netns_pair):
    alive = netns_pair.add_target("198.18.1.1")
    unroutable = "198.18.200.1"  # the prober namespace has no route to 198.18.200.0/24
    report = run_probe_in(netns_pair, targets=[alive, unroutable], count=3, interval=0.05, timeout=2.0)
    stats = by_address(report)
    assert (stats[unroutable]["sent"], stats[unroutable]["received"], stats[unroutable]["loss_pct"]) == (3, 0, 100.0)
    assert "Network is unreachable" in stats[unroutable]["last_error"]
    assert stats[alive]["loss_pct"] == 0.0
    assert report["duration_ms"] < 2000.0  # no echo of the unroutable target waited for the 2 s timeout


def test_icmp_unreachable_reply_ends_the_echo_before_the_timeout(netns_pair):
    rejecting = netns_pair.add_target("198.18.1.3")
    netns_pair.lab.reject_icmp(netns_pair.target, rejecting)
    result = rounds_in(netns_pair, [rejecting], timeout=ERROR_REPLY_TIMEOUT_S, rounds=2)
    for done in result["rounds"]:
        (echo,) = done["echoes"]
        assert echo["rtt_ms"] is None
        assert echo["error"] == "destination unreachable from 198.18.1.3: Destination host unreachable"
    print_round_times("ICMP error", result)
    for done in result["rounds"]:
        assert done["duration_s"] < ERROR_REPLY_TIMEOUT_S / 2, "the error ended the echo, not the 2 s timeout"


def test_partial_loss_is_strictly_between_zero_and_hundred(netns_pair):
    lossy = netns_pair.add_target("198.18.1.4")
    netns_pair.lab.drop_icmp(netns_pair.target, lossy, percent=50)
    report = run_probe_in(netns_pair, targets=[lossy], count=40, interval=0.01, timeout=0.3, max_loss_pct=100)
    (stats,) = report["targets"]
    assert stats["sent"] == 40
    # 40 echoes at 50% random loss: outside 10..90% has a probability below 1e-6.
    assert 10.0 <= stats["loss_pct"] <= 90.0
    assert stats["received"] == round(40 * (100 - stats["loss_pct"]) / 100)
    assert stats["healthy"] is True  # max_loss_pct=100 accepts any loss once something answered


def test_quorum_of_three_targets_with_one_down(netns_pair):
    targets = [netns_pair.add_target(address) for address in ("198.18.1.1", "198.18.1.2", "198.18.1.3")]
    netns_pair.lab.drop_icmp(netns_pair.target, targets[2])
    common = dict(targets=targets, count=2, interval=0.05, timeout=0.3)
    two_of_three = run_probe_in(netns_pair, min_healthy_targets=2, **common)
    assert (two_of_three["healthy"], two_of_three["healthy_targets"], two_of_three["min_healthy_targets"]) == (True, 2, 2)
    all_three = run_probe_in(netns_pair, min_healthy_targets=3, **common)
    assert (all_three["healthy"], all_three["healthy_targets"]) == (False, 2)
    assert [stats["healthy"] for stats in all_three["targets"]] == [True, True, False]


def test_ipv6_targets(netns_pair):
    alive = netns_pair.add_target("2001:db8:1::1")
    silent = netns_pair.add_target("2001:db8:1::2")
    netns_pair.lab.drop_icmp(netns_pair.target, silent)
    report = run_probe_in(netns_pair, targets=[alive, silent, "198.18.0.2"], count=3, interval=0.05, timeout=0.3)
    stats = by_address(report)
    assert stats[alive]["received"] == 3 and stats[alive]["healthy"] is True
    assert stats[silent]["loss_pct"] == 100.0
    assert stats["198.18.0.2"]["received"] == 3  # IPv4 and IPv6 targets in one probe


def test_ipv6_unreachable_reply(netns_pair):
    rejecting = netns_pair.add_target("2001:db8:1::3")
    netns_pair.lab.reject_icmp(netns_pair.target, rejecting)
    (done,) = rounds_in(netns_pair, [rejecting], timeout=ERROR_REPLY_TIMEOUT_S, rounds=1)["rounds"]
    assert done["echoes"][0]["error"] == "destination unreachable from 2001:db8:1::3: Address unreachable"
    assert done["duration_s"] < ERROR_REPLY_TIMEOUT_S / 2, "the error ended the echo, not the 2 s timeout"


def test_names_resolve_inside_the_namespace(netns_pair):
    address = netns_pair.add_target("198.18.1.5")
    netns_pair.lab.set_hosts(netns_pair.prober, {"dx-router.lab": address})
    report = run_probe_in(netns_pair, targets=["dx-router.lab"], count=2, interval=0.05, timeout=0.5)
    (stats,) = report["targets"]
    assert (stats["target"], stats["address"], stats["received"]) == ("dx-router.lab", address, 2)
    missing = run_probe_in(netns_pair, targets=["dx-router.lab", "missing.lab"], count=1)
    assert missing["error"] == "ProbeError"
    assert "target 'missing.lab' does not resolve" in missing["message"]


# --------------------------------------------------------------------------- source address


def test_source_address_selects_the_sending_address(netns_pair):
    target = netns_pair.add_target("198.18.1.1")
    netns_pair.lab.add_address(netns_pair.prober, netns_pair.prober_dev, "198.18.0.3/24")
    # The target ignores the prober's primary address, so only the source option can make it answer.
    netns_pair.lab.drop_icmp(netns_pair.target, target, from_address=netns_pair.prober_v4)
    settings = dict(targets=[target], count=2, interval=0.05, timeout=0.3)
    assert by_address(run_probe_in(netns_pair, **settings))[target]["received"] == 0
    assert by_address(run_probe_in(netns_pair, source=netns_pair.prober_v4, **settings))[target]["received"] == 0
    assert by_address(run_probe_in(netns_pair, source="198.18.0.3", **settings))[target]["received"] == 2


def test_ipv6_source_address(netns_pair):
    target = netns_pair.add_target("2001:db8:1::1")
    report = run_probe_in(netns_pair, targets=[target], source=netns_pair.prober_v6, count=2, interval=0.05, timeout=0.5)
    assert report["targets"][0]["received"] == 2


def test_source_address_not_on_this_host_is_a_clear_error(netns_pair):
    target = netns_pair.add_target("198.18.1.1")
    report = run_probe_in(netns_pair, targets=[target], source="198.18.0.77", count=1)
    assert report["error"] == "ProbeError"
    assert "source address 198.18.0.77 cannot be used: it is not assigned to an interface" in report["message"]


def test_source_of_the_other_family_is_a_validation_error(netns_pair):
    report = run_probe_in(netns_pair, targets=["2001:db8:1::1"], source=netns_pair.prober_v4, count=1)
    assert report["error"] == "ValidationError"
    assert "source 198.18.0.1 is IPv4 but these targets are not: 2001:db8:1::1" in report["message"]


# --------------------------------------------------------------------------- privileges


def test_unprivileged_mode_with_ping_group_range(netns_pair):
    targets = [netns_pair.add_target("198.18.1.1"), netns_pair.add_target("2001:db8:1::1")]
    netns_pair.lab.set_ping_group_range(netns_pair.prober, UNPRIVILEGED[1], UNPRIVILEGED[1])
    report = run_probe_in(netns_pair, user=UNPRIVILEGED, targets=targets, privileged=False, count=3, interval=0.05, timeout=0.5)
    assert report.get("error") is None, report
    assert [stats["received"] for stats in report["targets"]] == [3, 3]
    assert report["healthy"] is True


def test_unprivileged_mode_as_root_still_needs_ping_group_range(netns_pair):
    target = netns_pair.add_target("198.18.1.1")
    # A fresh namespace starts with ping_group_range "1 0": no group may use ping sockets.
    refused = run_probe_in(netns_pair, targets=[target], privileged=False, count=1)
    assert refused["error"] == "ProbeError"
    assert "unprivileged ICMP (ping) sockets are not allowed" in refused["message"]
    assert "net.ipv4.ping_group_range is '1 0'" in refused["message"]
    assert "sysctl -w net.ipv4.ping_group_range=" in refused["message"]
    netns_pair.lab.set_ping_group_range(netns_pair.prober, 0, 0)
    allowed = run_probe_in(netns_pair, targets=[target], privileged=False, count=1)
    assert allowed["targets"][0]["received"] == 1


def test_privileged_mode_without_root_is_a_clear_error(netns_pair):
    target = netns_pair.add_target("198.18.1.1")
    report = run_probe_in(netns_pair, user=UNPRIVILEGED, targets=[target], privileged=True, count=1)
    assert report["error"] == "ProbeError"
    assert "raw ICMP socket needs root or the CAP_NET_RAW capability" in report["message"]


# --------------------------------------------------------------------------- the daemon's prober


@pytest.mark.parametrize("privileged", [True, False])
def test_round_is_bounded_by_timeout_with_many_dead_targets(netns_pair, privileged):
    alive = netns_pair.add_target("198.18.1.1")
    dead = [netns_pair.add_target("198.18.1.%d" % host) for host in range(10, 18)]
    for address in dead:
        netns_pair.lab.drop_icmp(netns_pair.target, address)
    unroutable = "198.18.200.1"
    netns_pair.lab.set_ping_group_range(netns_pair.prober, 0, 0)
    timeout = 0.25
    result = rounds_in(netns_pair, [alive] + dead + [unroutable], timeout=timeout, rounds=5, privileged=privileged)
    for done in result["rounds"]:
        echoes = {echo["address"]: echo for echo in done["echoes"]}
        assert echoes[alive]["rtt_ms"] is not None and echoes[alive]["rtt_ms"] < timeout * 1000
        assert all(echoes[address]["error"].startswith("timeout") for address in dead)
        assert echoes[unroutable]["error"].startswith("not sent")
    # Sockets are opened once, not per round.
    assert result["fds_after"] == result["fds_before"]
    # The round waits out the timeout once for all dead targets: never less (the 5 ms allow for
    # the clocks' granularity), and far less than 8 x 0.25 s one after the other. Measured
    # 0.251-0.254 s, loaded or not; the upper bound is 4x the timeout, half the 2 s.
    print_round_times("dead targets (privileged %s)" % privileged, result)
    for done in result["rounds"]:
        assert timeout - 0.005 <= done["duration_s"] < 4 * timeout, done["duration_s"]


def test_round_returns_as_soon_as_every_target_answered(netns_pair):
    targets = [netns_pair.add_target("198.18.1.%d" % host) for host in range(1, 6)] + [netns_pair.add_target("2001:db8:1::1")]
    result = rounds_in(netns_pair, targets, timeout=1.0, rounds=10)
    for done in result["rounds"]:
        assert all(echo["rtt_ms"] is not None for echo in done["echoes"])
    print_round_times("answered", result)
    # Answered rounds end with the last reply, far from the 1 s timeout even on a loaded machine.
    assert max(done["duration_s"] for done in result["rounds"]) < ANSWERED_ROUND_BOUND_S


@pytest.mark.parametrize("privileged", [True, False])
def test_a_round_of_two_echoes_sends_both_to_every_target_and_each_is_answered(netns_pair, privileged):
    targets = [netns_pair.add_target("198.18.1.1"), netns_pair.add_target("2001:db8:1::1")]
    netns_pair.lab.set_ping_group_range(netns_pair.prober, 0, 0)
    result = rounds_in(netns_pair, targets, timeout=1.0, rounds=3, echoes=2, privileged=privileged)
    for done in result["rounds"]:
        assert [echo["address"] for echo in done["echoes"]] == [targets[0], targets[0], targets[1], targets[1]]
        assert all(echo["rtt_ms"] is not None for echo in done["echoes"])
        assert done["echoes"][0]["sequence"] != done["echoes"][1]["sequence"] and done["echoes"][2]["sequence"] != done["echoes"][3]["sequence"]
    print_round_times("two echoes (privileged %s)" % privileged, result)
    for done in result["rounds"]:
        assert done["duration_s"] < ANSWERED_ROUND_BOUND_S, "both echoes left at once and were answered, far from the timeout"


def test_reply_after_the_timeout_is_loss_and_the_next_round_recovers(netns_pair):
    target = netns_pair.add_target("198.18.1.1")
    netns_pair.lab.drop_icmp(netns_pair.target, target)
    assert rounds_in(netns_pair, [target], timeout=0.2, rounds=1)["rounds"][0]["echoes"][0]["error"].startswith("timeout")
    netns_pair.lab.clear_icmp_rules(netns_pair.target)
    assert all(done["echoes"][0]["rtt_ms"] is not None for done in rounds_in(netns_pair, [target], timeout=0.2, rounds=3)["rounds"])


# --------------------------------------------------------------------------- the icmp_probe module


def run_module(pair, args, check_mode=False, tmp_path=None):
    """Run localzones.failover.icmp_probe with ad-hoc ansible inside the prober namespace."""
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
        ANSIBLE_PYTHON_INTERPRETER=os.path.join(REPO_ROOT, ".venv", "bin", "python"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_NOCOLOR="true",
    )
    argv = [os.path.join(REPO_ROOT, ".venv", "bin", "ansible"), "localhost", "-m", "localzones.failover.icmp_probe", "-a", json.dumps(args), "-o"]
    if check_mode:
        argv.append("--check")
    completed = pair.lab.run_in(pair.prober, argv, check=False, env=env, timeout=120)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("localhost |")), None)
    assert line is not None, "no result line\nstdout: %s\nstderr: %s" % (completed.stdout, completed.stderr)
    status, payload = line.split(" => ", 1)
    return status.split("|", 1)[1].strip(), json.loads(payload)


def test_module_reports_health_and_loss(netns_pair, tmp_path):
    alive = netns_pair.add_target("198.18.1.1")
    silent = netns_pair.add_target("198.18.1.2")
    netns_pair.lab.drop_icmp(netns_pair.target, silent)
    status, result = run_module(netns_pair, {"targets": [alive, silent, "198.18.200.1"], "count": 3, "interval": 0.05, "timeout": 0.3}, tmp_path=tmp_path)
    assert status == "SUCCESS"
    assert result["changed"] is False
    assert (result["healthy"], result["healthy_targets"], result["min_healthy_targets"]) == (True, 1, 1)
    stats = by_address(result)
    assert (stats[alive]["sent"], stats[alive]["received"], stats[alive]["loss_pct"]) == (3, 3, 0.0)
    assert (stats[silent]["received"], stats[silent]["loss_pct"], stats[silent]["healthy"]) == (0, 100.0, False)
    assert stats["198.18.200.1"]["loss_pct"] == 100.0
    assert set(stats[alive]) == {
        "target", "address", "sent", "received", "loss_pct", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "jitter_ms", "healthy", "last_error",
    }


def test_module_quorum_not_met_is_unhealthy_but_not_failed(netns_pair, tmp_path):
    alive = netns_pair.add_target("198.18.1.1")
    status, result = run_module(netns_pair, {"targets": [alive, "198.18.200.1"], "count": 1, "min_healthy_targets": 2}, tmp_path=tmp_path)
    assert status == "SUCCESS"
    assert (result["healthy"], result["healthy_targets"], result["min_healthy_targets"]) == (False, 1, 2)


def test_module_probes_in_check_mode(netns_pair, tmp_path):
    alive = netns_pair.add_target("2001:db8:1::1")
    status, result = run_module(netns_pair, {"targets": [alive], "count": 2, "interval": 0.05}, check_mode=True, tmp_path=tmp_path)
    assert status == "SUCCESS"
    assert result["changed"] is False
    assert result["targets"][0]["received"] == 2


def test_module_fails_clearly_for_an_unresolvable_name(netns_pair, tmp_path):
    alive = netns_pair.add_target("198.18.1.1")
    status, result = run_module(netns_pair, {"targets": [alive, "no-such-router.lab"]}, tmp_path=tmp_path)
    assert status == "FAILED!"
    assert result["changed"] is False  # the oneline callback shows failure in the status, not as a key
    assert result["msg"].startswith("target 'no-such-router.lab' does not resolve")


def test_module_fails_with_every_invalid_option(netns_pair, tmp_path):
    status, result = run_module(netns_pair, {"targets": ["198.18.1.1"], "count": 0, "timeout": 0, "min_healthy_targets": 2}, tmp_path=tmp_path)
    assert status == "FAILED!"
    assert len(result["problems"]) == 3
    assert "count must be an integer of at least 1" in result["msg"]
