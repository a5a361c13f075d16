# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fhrp role (keepalived VRRP) on two real Debian 12 routers sharing an on-premises LAN.

The two routers and their LAN are harness/fhrp.py's ``router_lab``: the DX router
(priority 150) tracks Direct Connect with the role's ping check against the DX peer; the
VPN router has priority 100. Dropping echo requests in the DX peer's namespace (nftables)
is the DX failure.

The module converges both routers once and the tests then look at them in file order:
mastership, a second run, failover and failback with multicast adverts, the same with
unicast peers (multicast dropped on the bridge), and last configurations keepalived must
reject. Check mode gets fresh routers of its own. Failover and failback times come from
the notify script's state files (the role writes them on every transition); which router the
LAN client's traffic really went through comes from counters on the LAN bridge's router ports.
Behaviour is asserted before the time bounds.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time

import pytest

from harness.hosts import assert_succeeded
from harness.fhrp import CONFIG_FILE
from harness.fhrp import DX_PEER
from harness.fhrp import INSTANCE
from harness.fhrp import PREEMPT_DELAY
from harness.fhrp import PRIORITY
from harness.fhrp import ROUTER_LAN
from harness.fhrp import SERVICE
from harness.fhrp import VIP
from harness.fhrp import assert_gateway_answered_by
from harness.fhrp import file_digest
from harness.fhrp import router_lab
from harness.fhrp import router_vars
from harness.fhrp import snapshot
from harness.fhrp import traffic_between
from harness.waiting import wait_for

pytestmark = [pytest.mark.netns]

# DX check every second, two failures to fail (each ping waits 1 s), two successes to recover.
FAILOVER_BOUND = 5.0
# The gateway address changes hands within about 0.06 s (2 to 3 of the LAN client's echoes,
# roles/fhrp/README.md). A second, 50 echoes, is a margin a loaded machine keeps, and still
# well short of what a LAN host without the new owner's gratuitous ARP would lose.
GATEWAY_OUTAGE_BOUND_S = 1.0
CLIENT_PING_INTERVAL_S = 0.02
# After a move the new owner answers every echo request the bridge sent it, but for those still in
# flight when the counters are read (the ping keeps running): measured 0, and 3 (60 ms of echoes)
# is a margin a loaded 2-core machine keeps.
UNANSWERED_AFTER_MOVE_MARGIN = 3
MULTICAST_DROP = """add table bridge lzt_vrrp
add chain bridge lzt_vrrp forward { type filter hook forward priority 0; policy accept; }
add rule bridge lzt_vrrp forward ip daddr 224.0.0.18 counter drop
"""


@contextlib.contextmanager
def lan_client_ping(setup, interval=CLIENT_PING_INTERVAL_S):
    """Ping the gateway address from the LAN client while the block runs; yields a dict with the result."""
    outcome = {}
    argv = ["ping", "-n", "-q", "-i", str(interval), "-W", "1", VIP]
    process = setup.lab.spawn_in(setup.lan, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        yield outcome
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=10)[0]
        for line in output.splitlines():
            if "packets transmitted" in line:
                fields = line.split()
                outcome.update(sent=int(fields[0]), received=int(fields[3]))
        outcome["interval"] = interval


def traffic_around_the_move(setup, started, moved):
    """The bridge's counts up to the move and since, and where the LAN client now sends the gateway's frames."""
    now = setup.gateway_traffic()
    return {"before": traffic_between(started, moved), "after": traffic_between(moved, now), "client_gateway_mac": setup.client_gateway_mac()}


def measure_failover_and_failback(setup):
    """Fail DX, wait for the VPN router, restore DX, wait for the DX router; returns timings and echo counts, and traffic.

    The LAN client pings the gateway address through each move, one ping run per direction;
    ``traffic[direction]`` is ``traffic_around_the_move``, the move being the moment the new owner
    alone held the address and said MASTER.
    """
    timings, traffic = {}, {}
    with lan_client_ping(setup) as failover_client:
        started = setup.gateway_traffic()
        failed_at = time.time()
        setup.lab.drop_icmp(setup.dx_peer, DX_PEER)
        wait_for(lambda: setup.master() == "vpn" and setup.state("vpn").get("state") == "MASTER", 15, "the VPN router to take over")
        moved = setup.gateway_traffic()
        timings["failover"] = setup.state("vpn")["time"] - failed_at
        timings["dx_fault_after"] = setup.state("dx")["time"] - failed_at
        assert setup.state("dx")["state"] == "FAULT"
        time.sleep(1.0)
        assert setup.master() == "vpn", "the gateway moved back while DX was still down"
        traffic["failover"] = traffic_around_the_move(setup, started, moved)
    with lan_client_ping(setup) as failback_client:
        started = setup.gateway_traffic()
        restored_at = time.time()
        setup.lab.clear_icmp_rules(setup.dx_peer)
        wait_for(lambda: setup.state("dx").get("state") == "BACKUP", 10, "the DX router to leave FAULT")
        dx_backup_at = setup.state("dx")["time"]
        wait_for(lambda: setup.master() == "dx" and setup.state("dx").get("state") == "MASTER", PREEMPT_DELAY + 10,
                 "the DX router to take the gateway back")
        moved = setup.gateway_traffic()
        timings["failback"] = setup.state("dx")["time"] - restored_at
        timings["preempt_wait"] = setup.state("dx")["time"] - dx_backup_at
        assert setup.state("vpn")["state"] == "BACKUP"
        time.sleep(0.5)
        traffic["failback"] = traffic_around_the_move(setup, started, moved)
    for direction, client in (("failover", failover_client), ("failback", failback_client)):
        timings["%s_echoes_sent" % direction] = client["sent"]
        timings["%s_echoes_lost" % direction] = client["sent"] - client["received"]
    return timings, traffic


def assert_the_lan_client_followed_the_gateway(setup, traffic):
    """Through each move the LAN client reached the gateway address through the router that held it.

    Up to the move the old owner answered; after it the client sent its echo requests to the new
    owner alone (the new owner's gratuitous ARP reached it: its neighbour entry names the new
    owner's MAC), the new owner answered them and the old one answered none.
    """
    for direction, old, new in (("failover", "dx", "vpn"), ("failback", "vpn", "dx")):
        before, after = traffic[direction]["before"], traffic[direction]["after"]
        assert before["replies_" + old] > 0, ("%s: the %s router answered nothing before the move" % (direction, old), traffic)
        assert after["replies_" + new] > 0, ("%s: the LAN client got no reply through the %s router after the move" % (direction, new), traffic)
        assert after["requests_" + old] == 0 and after["replies_" + old] == 0, (
            "%s: the LAN client's echoes still went to the %s router after the move" % (direction, old), traffic)
        unanswered = after["requests_" + new] - after["replies_" + new]
        assert unanswered <= UNANSWERED_AFTER_MOVE_MARGIN, ("%s: the %s router left %d echoes unanswered" % (direction, new, unanswered), traffic)
        assert traffic[direction]["client_gateway_mac"] == setup.router_mac(new), (direction, traffic)


def assert_the_gateway_stayed_reachable(timings):
    """The LAN client lost the gateway for at most GATEWAY_OUTAGE_BOUND_S in each direction."""
    for direction in ("failover", "failback"):
        sent, lost = timings["%s_echoes_sent" % direction], timings["%s_echoes_lost" % direction]
        # The ping ran through the whole move (at least 2 s of it), so a small loss means something.
        assert sent >= 2.0 / CLIENT_PING_INTERVAL_S, timings
        assert lost * CLIENT_PING_INTERVAL_S <= GATEWAY_OUTAGE_BOUND_S, (
            "%s: the LAN client lost %d echoes to the gateway (%.2f s)" % (direction, lost, lost * CLIENT_PING_INTERVAL_S), timings)


def multicast_adverts_dropped(setup):
    """Packets to the VRRP multicast group the bridge has dropped so far."""
    listing = setup.lab.run_in(setup.lan, ["nft", "list", "table", "bridge", "lzt_vrrp"]).stdout
    return int(listing.split("counter packets")[1].split()[0])


@pytest.fixture(scope="module")
def routers(tmp_path_factory):
    """Both routers converged once, with the DX router holding the gateway address."""
    with router_lab(str(tmp_path_factory.mktemp("fhrp-role"))) as lab:
        run = lab.apply()
        assert_succeeded(run, *lab.hosts.values())
        started = time.monotonic()
        # init_fail: the DX router waits for two good DX checks, then preempt_delay.
        wait_for(lambda: lab.stable_master("dx", 0.5), PREEMPT_DELAY + 15, "the DX router to become MASTER")
        lab.count_gateway_traffic()
        print("first converge: %.1f s; DX router MASTER %.1f s later" % (run.seconds, time.monotonic() - started))
        yield lab


# --------------------------------------------------------------------------- tests


def test_check_mode_on_fresh_routers_changes_nothing(tmp_path):
    with router_lab(str(tmp_path)) as lab:
        before = {side: snapshot(host) for side, host in lab.hosts.items()}
        run = lab.apply(check=True)
        assert_succeeded(run, *lab.hosts.values())
        for side, host in lab.hosts.items():
            assert snapshot(host) == before[side], "check mode changed files or accounts on the %s router" % side
            assert host.run(["systemctl", "is-active", SERVICE], check=False).stdout.strip() != "active"
        print("check mode on fresh routers: %.1f s, %s" % (run.seconds, run.stats(lab.hosts["dx"].name)))


def test_dx_router_is_master_and_transitions_are_logged(routers):  # pylint: disable=redefined-outer-name
    assert routers.master() == "dx"
    assert routers.state("dx")["state"] == "MASTER" and routers.state("dx")["priority"] == PRIORITY["dx"]
    assert routers.state("vpn")["state"] == "BACKUP"
    journal = routers.hosts["dx"].run(["journalctl", "-t", "lz-fhrp", "--no-pager", "-o", "cat"]).stdout
    assert "VRRP instance %s is now MASTER (priority %d)" % (INSTANCE, PRIORITY["dx"]) in journal, journal
    config = routers.hosts["dx"].read_file(CONFIG_FILE).decode()
    assert "version 3" in config and "advert_int 0.1" in config and "preempt_delay %s" % PREEMPT_DELAY in config
    assert "authentication" not in config
    # The LAN's hosts reach their gateway, and it is the DX router that answers.
    assert_gateway_answered_by(routers, "dx")


def test_second_run_changes_nothing(routers):  # pylint: disable=redefined-outer-name
    run = routers.apply()
    assert_succeeded(run, *routers.hosts.values())
    for host in routers.hosts.values():
        assert run.stats(host.name)["changed"] == 0, run.summary(host.name)
    assert routers.stable_master("dx", 0.5)


def test_dx_failure_moves_the_gateway_and_recovery_brings_it_back(routers):  # pylint: disable=redefined-outer-name
    timings, traffic = measure_failover_and_failback(routers)
    print("multicast VRRPv3: %s" % json.dumps({key: round(value, 3) for key, value in timings.items()}))
    print("multicast VRRPv3 gateway traffic: %s" % json.dumps(traffic))
    assert_the_lan_client_followed_the_gateway(routers, traffic)
    assert_the_gateway_stayed_reachable(timings)
    assert timings["failover"] < FAILOVER_BOUND, timings
    # The DX router waits preempt_delay after DX is healthy again before it takes over.
    assert timings["preempt_wait"] >= PREEMPT_DELAY - 0.05, timings
    assert timings["preempt_wait"] < PREEMPT_DELAY + 1.5, timings


def test_unicast_peers_work_without_multicast(routers):  # pylint: disable=redefined-outer-name
    # Multicast adverts die on the bridge from now on: only unicast keeps the routers in agreement.
    routers.lab.run_in(routers.lan, ["nft", "-f", "-"], input_text=MULTICAST_DROP)
    routers.host_vars("dx", router_vars("dx", fhrp_unicast_peers=[ROUTER_LAN["vpn"]]))
    routers.host_vars("vpn", router_vars("vpn", fhrp_unicast_peers=[ROUTER_LAN["dx"]]))
    run = routers.apply()
    assert_succeeded(run, *routers.hosts.values())
    assert "Reload keepalived" in run.changed_tasks(routers.hosts["dx"].name)
    wait_for(lambda: routers.stable_master("dx", 2.0), PREEMPT_DELAY + 15, "the DX router to stay MASTER with unicast adverts")
    config = routers.hosts["dx"].read_file(CONFIG_FILE).decode()
    assert "unicast_peer" in config and ROUTER_LAN["vpn"] in config
    dropped_before = multicast_adverts_dropped(routers)
    timings, traffic = measure_failover_and_failback(routers)
    print("unicast VRRPv3: %s" % json.dumps({key: round(value, 3) for key, value in timings.items()}))
    print("unicast VRRPv3 gateway traffic: %s" % json.dumps(traffic))
    print("multicast adverts dropped on the bridge (before the reload to unicast): %d" % dropped_before)
    # Not one multicast advert during failover and failback: the elections ran on unicast alone.
    assert multicast_adverts_dropped(routers) == dropped_before
    assert_the_lan_client_followed_the_gateway(routers, traffic)
    assert_the_gateway_stayed_reachable(timings)
    assert timings["failover"] < FAILOVER_BOUND, timings
    assert timings["preempt_wait"] >= PREEMPT_DELAY - 0.05, timings


def test_authentication_is_refused_with_vrrpv3(routers):  # pylint: disable=redefined-outer-name
    before = file_digest(routers.hosts["dx"], CONFIG_FILE)
    run = routers.apply(extra_vars={"fhrp_authentication": {"type": "PASS", "password": "s3cret-pw"}})
    assert run.returncode != 0
    failures = run.failures(routers.hosts["dx"].name)
    assert failures and failures[0][0] == "Check the VRRP settings and the DX check", failures
    assert "VRRPv3 has no authentication" in failures[0][1]["msg"]
    assert file_digest(routers.hosts["dx"], CONFIG_FILE) == before


@pytest.mark.parametrize(
    "bad_vars, expected",
    [
        ({"fhrp_interface": "nosuch0"}, "interface nosuch0"),
        ({"fhrp_priority": 300}, "outside range"),
    ],
    ids=["unknown-interface", "priority-out-of-range"],
)
def test_config_keepalived_rejects_never_replaces_the_running_one(routers, bad_vars, expected):  # pylint: disable=redefined-outer-name
    before = {side: file_digest(host, CONFIG_FILE) for side, host in routers.hosts.items()}
    pids = {side: host.run(["systemctl", "show", "-p", "MainPID", "--value", SERVICE]).stdout.strip() for side, host in routers.hosts.items()}
    run = routers.apply(extra_vars=bad_vars)
    assert run.returncode != 0
    for side, host in routers.hosts.items():
        failures = run.failures(host.name)
        # The template task fails its validation; the rescue turns that into one clear message.
        assert failures and failures[-1][0] == "Report the rejected configuration", failures
        message = failures[-1][1]["msg"]
        assert "keepalived -t rejected the rendered configuration" in message and expected in message, message
        if side == "dx":
            print("%s: %s" % (expected, message))
        assert file_digest(host, CONFIG_FILE) == before[side], "%s: the live keepalived.conf was replaced" % side
        assert host.run(["systemctl", "is-active", SERVICE]).stdout.strip() == "active"
        assert host.run(["systemctl", "show", "-p", "MainPID", "--value", SERVICE]).stdout.strip() == pids[side]
    assert routers.stable_master("dx", 1.0), "the running VRRP setup was disturbed"
