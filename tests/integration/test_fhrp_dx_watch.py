# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fhrp role's ``check: routes`` on two real Debian 12 routers (the topology of test_fhrp_role.py).

The DX router tracks two prefixes, PREFIX and SECOND_PREFIX, as ``proto bird`` routes in its main
table; no BIRD runs, the test adds and deletes the routes with ``ip route`` as BIRD would. The watcher
(lz-fhrp-dx-watch.service) turns route events into keepalived's track file; keepalived also
tracks the watcher's process where the kernel gives it process events (not in these
containers: each has its own network namespace; the unit's ExecStopPost covers a killed
watcher there). The module runs check mode on the fresh routers, then converges both once; the
tests then run in file order: FAULT until the routes exist, MASTER with them, the gateway moves
when a route leaves or the DX link goes down and comes back after the preempt delay, a killed
watcher, a hung one, a watcher that cannot read the routing table, a second run, and bad
settings. Times are printed, not asserted (generous timeouts only). After each move the LAN client
pings the gateway address and the LAN bridge's counters show which router answered
(harness/fhrp.py's ``assert_gateway_answered_by``), not only which one says MASTER.
"""

from __future__ import annotations

import json
import time

import pytest

from harness.waiting import wait_for
from harness.hosts import assert_succeeded
from harness.fhrp import CONFIG_FILE
from harness.fhrp import DX_PEER
from harness.fhrp import assert_gateway_answered_by
from harness.fhrp import file_digest
from harness.fhrp import router_lab
from harness.fhrp import router_vars
from harness.fhrp import snapshot

pytestmark = [pytest.mark.netns]

PREFIX = "198.18.128.0/20"
SECOND_PREFIX = "198.18.144.0/20"
PREEMPT_DELAY = 1
WATCH_SERVICE = "lz-fhrp-dx-watch.service"
TRACK_FILE = "/run/lz-fhrp-dx-watch/dx-routes"
BLOCK_NETLINK_DROPIN = "/etc/systemd/system/lz-fhrp-dx-watch.service.d/block-netlink.conf"
# A move of the gateway takes well under a second here; this only bounds a hung test.
MOVE_TIMEOUT = 15
# The unit's WatchdogSec (roles/fhrp/vars/main.yml).
WATCHDOG_S = 3


def routes_check(**extra):
    track = {"enabled": True, "check": "routes", "prefixes": [PREFIX, SECOND_PREFIX]}
    track.update(extra)
    return {"fhrp_track_script": track, "fhrp_preempt_delay": PREEMPT_DELAY}


def dx(routers):
    return routers.hosts["dx"]


def journal(host, *selectors):
    return host.run(["journalctl", "--no-pager", "-o", "cat"] + list(selectors)).stdout


def watcher_pid(routers):
    return int(dx(routers).run(["systemctl", "show", "-p", "MainPID", "--value", WATCH_SERVICE]).stdout.strip())


def add_route(routers, protocol="bird", prefix=PREFIX):
    dx(routers).run(["ip", "route", "replace", prefix, "via", DX_PEER, "dev", "dx0", "proto", protocol])


def delete_route(routers, prefix=PREFIX):
    dx(routers).run(["ip", "route", "del", prefix])


def track_file(routers):
    return dx(routers).read_file(TRACK_FILE)


def watcher_says(routers, text):
    return text in journal(dx(routers), "-t", "lz-fhrp-dx-watch")


def wait_watcher_says(routers, text, what):
    wait_for(lambda: watcher_says(routers, text), MOVE_TIMEOUT, what)


def dx_state(routers):
    return routers.state("dx").get("state")


def wait_dx_master(routers, what):
    wait_for(lambda: routers.master() == "dx" and dx_state(routers) == "MASTER", PREEMPT_DELAY + MOVE_TIMEOUT, what)


def wait_vpn_master(routers, what):
    wait_for(lambda: routers.master() == "vpn" and routers.state("vpn").get("state") == "MASTER", MOVE_TIMEOUT, what)


def fresh_check_mode(lab):
    """Check mode on the fresh routers: (snapshot before, run, snapshot after, watcher state, runtime directory listing)."""
    host = lab.hosts["dx"]
    before = snapshot(host)
    run = lab.apply(check=True)
    active = host.run(["systemctl", "is-active", WATCH_SERVICE], check=False).stdout.strip()
    runtime = host.run(["ls", "-A", TRACK_FILE.rsplit("/", 1)[0]], check=False).stdout
    return before, run, snapshot(host), active, runtime


@pytest.fixture(scope="module")
def routers(tmp_path_factory):
    """Check mode on the fresh routers, then both converged with check routes; the DX router has no route yet."""
    with router_lab(str(tmp_path_factory.mktemp("fhrp-dx-watch"))) as lab:
        lab.host_vars("dx", router_vars("dx", **routes_check()))
        lab.host_vars("vpn", router_vars("vpn", fhrp_preempt_delay=PREEMPT_DELAY))
        # Check mode needs fresh routers: run it here rather than boot a second pair for it.
        lab.fresh_check_mode = fresh_check_mode(lab)
        run = lab.apply()
        assert_succeeded(run, *lab.hosts.values())
        lab.count_gateway_traffic()
        print("first converge with check routes: %.1f s" % run.seconds)
        yield lab


def test_check_mode_on_fresh_routers_changes_nothing(routers):  # pylint: disable=redefined-outer-name
    before, run, after, watcher_state, runtime = routers.fresh_check_mode
    assert_succeeded(run, *routers.hosts.values())
    assert after == before, "check mode changed files or accounts on the DX router"
    assert watcher_state != "active" and runtime == ""


def test_without_the_routes_the_dx_router_stays_in_fault(routers):  # pylint: disable=redefined-outer-name
    wait_vpn_master(routers, "the VPN router to hold the gateway")
    wait_watcher_says(routers, "DX FAULT: not in the main table as a bird route: %s, %s" % (PREFIX, SECOND_PREFIX),
                      "the watcher to report both routes missing")
    assert dx_state(routers) == "FAULT" and routers.master() == "vpn"
    assert track_file(routers) == b"1\n"
    assert_gateway_answered_by(routers, "vpn")
    # Keep the track file where a reboot clears it.
    assert dx(routers).run(["test", "-e", "/var/lib/lz-fhrp/dx-routes"], check=False).returncode != 0
    config = dx(routers).read_file(CONFIG_FILE).decode()
    assert "track_file dx_routes" in config and "vrrp_script" not in config
    # The lab routers are containers with their own network namespace: no process events there
    # (the connector only exists in the initial namespace), so the role leaves track_process out.
    assert "vrrp_track_process dx_watch" not in config and "No vrrp_track_process: this host has no process events" in config


def test_a_route_of_another_protocol_does_not_count(routers):  # pylint: disable=redefined-outer-name
    add_route(routers, protocol="static")
    # A bird route for the other prefix afterwards: once the watcher reports it (so it read the table
    # after the static route went in), PREFIX must still be missing.
    add_route(routers, prefix=SECOND_PREFIX)
    wait_watcher_says(routers, "DX FAULT: not in the main table as a bird route: %s (came back: %s)" % (PREFIX, SECOND_PREFIX),
                      "the watcher to see the second prefix's bird route")
    assert dx_state(routers) == "FAULT" and track_file(routers) == b"1\n"


def test_the_bird_route_makes_the_dx_router_master(routers):  # pylint: disable=redefined-outer-name
    added_at = time.time()
    add_route(routers)
    wait_dx_master(routers, "the DX router to take the gateway once the route is in")
    assert routers.state("vpn")["state"] == "BACKUP"
    assert track_file(routers) == b"0\n"
    assert_gateway_answered_by(routers, "dx")
    print("route added -> DX router MASTER: %.2f s (preempt delay %s s)" % (routers.state("dx")["time"] - added_at, PREEMPT_DELAY))


def test_the_route_leaving_moves_the_gateway_and_its_return_brings_it_back(routers):  # pylint: disable=redefined-outer-name
    deleted_at = time.time()
    delete_route(routers)
    wait_vpn_master(routers, "the VPN router to take over when the route left")
    assert dx_state(routers) == "FAULT"
    timings = {"dx_fault": routers.state("dx")["time"] - deleted_at, "vpn_master": routers.state("vpn")["time"] - deleted_at}
    assert watcher_says(routers, "(left: %s)" % PREFIX)
    # Longer than the preempt delay: the gateway must stay on the VPN router while the route is missing.
    assert routers.stable_master("vpn", PREEMPT_DELAY + 1.0), "the gateway moved back while the route was still missing"
    assert_gateway_answered_by(routers, "vpn")
    restored_at = time.time()
    add_route(routers)
    wait_dx_master(routers, "the DX router to take the gateway back")
    timings["dx_master_again"] = routers.state("dx")["time"] - restored_at
    assert watcher_says(routers, "(came back: %s)" % PREFIX)
    assert_gateway_answered_by(routers, "dx")
    print("check routes: %s" % json.dumps({key: round(value, 3) for key, value in timings.items()}))


def test_the_dx_link_going_down_moves_the_gateway_without_a_route_event(routers):  # pylint: disable=redefined-outer-name
    # With IPv6 off on dx0 the kernel sends no route deletion at all when the link goes down and its
    # routes vanish: only the link event (or the 1 s re-read) can tell the watcher.
    host = dx(routers)
    host.run(["sysctl", "-q", "-w", "net.ipv6.conf.dx0.disable_ipv6=1"])
    wait_dx_master(routers, "the DX router to hold the gateway before the link goes down")
    down_at = time.time()
    host.run(["ip", "link", "set", "dx0", "down"])
    try:
        wait_vpn_master(routers, "the VPN router to take over when the DX link went down")
        assert dx_state(routers) == "FAULT" and track_file(routers) == b"1\n"
        assert watcher_says(routers, "(left: %s, %s)" % (PREFIX, SECOND_PREFIX))
        assert_gateway_answered_by(routers, "vpn")
        print("dx0 down -> VPN router MASTER: %.2f s" % (routers.state("vpn")["time"] - down_at))
    finally:
        host.run(["ip", "link", "set", "dx0", "up"])
        host.run(["sysctl", "-q", "-w", "net.ipv6.conf.dx0.disable_ipv6=0"])
    add_route(routers)
    add_route(routers, prefix=SECOND_PREFIX)
    wait_dx_master(routers, "the DX router to take the gateway back with the link and the routes")


def test_a_killed_watcher_faults_at_once_and_systemd_brings_it_back(routers):  # pylint: disable=redefined-outer-name
    before = watcher_pid(routers)
    killed_at = time.time()
    dx(routers).run(["kill", "-KILL", str(before)])
    wait_for(lambda: dx_state(routers) == "FAULT", MOVE_TIMEOUT, "the DX router to leave mastership when its watcher died")
    fault_after = routers.state("dx")["time"] - killed_at
    wait_vpn_master(routers, "the VPN router to take over from a DX router without a watcher")
    wait_for(lambda: watcher_pid(routers) not in (0, before), MOVE_TIMEOUT, "systemd to restart the watcher")
    wait_dx_master(routers, "the DX router to return with the restarted watcher")
    assert "DX FAULT: the service stopped (signal, killed KILL)" in journal(dx(routers), "-t", "lz-fhrp-dx-watch")
    print("watcher SIGKILL -> DX router FAULT: %.2f s; back MASTER %.2f s after the kill" % (fault_after, routers.state("dx")["time"] - killed_at))


def test_a_hung_watcher_is_killed_by_the_watchdog_and_leaves_fault(routers):  # pylint: disable=redefined-outer-name
    wait_dx_master(routers, "the DX router to hold the gateway before the watcher hangs")
    before = watcher_pid(routers)
    hung_at = time.time()
    # A stopped process sends no WATCHDOG=1: systemd aborts it, then kills it, and ExecStopPost writes FAULT.
    dx(routers).run(["kill", "-STOP", str(before)])
    wait_vpn_master(routers, "the VPN router to take over from a DX router whose watcher hung")
    fault_after = routers.state("dx")["time"] - hung_at
    wait_for(lambda: watcher_pid(routers) not in (0, before), MOVE_TIMEOUT, "systemd to restart the hung watcher")
    wait_dx_master(routers, "the DX router to return with the restarted watcher")
    assert watcher_says(routers, "DX FAULT: the service stopped (watchdog,")
    print("watcher hung -> DX router FAULT: %.2f s (watchdog %d s)" % (fault_after, WATCHDOG_S))


def test_a_watcher_that_cannot_read_the_routing_table_fails_closed(routers):  # pylint: disable=redefined-outer-name
    # The unit loses AF_NETLINK: the watcher runs, but every netlink socket it opens is refused.
    host = dx(routers)
    host.run(["mkdir", "-p", BLOCK_NETLINK_DROPIN.rsplit("/", 1)[0]])
    host.run(["tee", BLOCK_NETLINK_DROPIN], input_text="[Service]\nRestrictAddressFamilies=\nRestrictAddressFamilies=AF_UNIX\n")
    try:
        host.run(["systemctl", "daemon-reload"])
        host.run(["systemctl", "restart", WATCH_SERVICE])
        wait_vpn_master(routers, "the VPN router to take over from a DX router that cannot read its routes")
        refused = "DX FAULT: cannot read the routing table (netlink socket: [Errno 97] Address family not supported by protocol)"
        wait_watcher_says(routers, refused, "the watcher to say why it cannot read the table")
        assert dx_state(routers) == "FAULT" and host.read_file(TRACK_FILE) == b"1\n"
        # It keeps running (and pinging the watchdog) while it retries.
        assert routers.stable_master("vpn", WATCHDOG_S + 1.0)
        assert host.run(["systemctl", "is-active", WATCH_SERVICE]).stdout.strip() == "active"
    finally:
        host.run(["rm", "-f", BLOCK_NETLINK_DROPIN])
        host.run(["systemctl", "daemon-reload"])
        host.run(["systemctl", "restart", WATCH_SERVICE])
    wait_dx_master(routers, "the DX router to return once the watcher reads the table again")


def test_second_run_changes_nothing(routers):  # pylint: disable=redefined-outer-name
    pid = watcher_pid(routers)
    run = routers.apply()
    assert_succeeded(run, *routers.hosts.values())
    for host in routers.hosts.values():
        assert run.stats(host.name)["changed"] == 0, run.summary(host.name)
    assert watcher_pid(routers) == pid
    assert routers.stable_master("dx", 1.0)


def test_every_bad_setting_is_named_at_once_and_nothing_changes(routers):  # pylint: disable=redefined-outer-name
    add_route(routers)
    wait_dx_master(routers, "the DX router to hold the gateway before the bad run")
    before = file_digest(dx(routers), CONFIG_FILE)
    # A VRRP problem and DX check problems: one error names them all.
    bad = dict(routes_check(prefixes=["198.18.128.1/20", "vpc"], route_protocol="gated"), fhrp_preempt_delay=5000)
    run = routers.apply(extra_vars=bad)
    assert run.returncode != 0
    failures = run.failures(dx(routers).name)
    assert failures and failures[0][0] == "Check the VRRP settings and the DX check", failures
    message = failures[0][1]["msg"]
    for expected in ("fhrp_preempt_delay 5000 must be 0 to 1000", "'198.18.128.1/20' has host bits set", "'vpc' is not a CIDR block", "route_protocol gated"):
        assert expected in message, message
    assert file_digest(dx(routers), CONFIG_FILE) == before
    assert routers.stable_master("dx", 1.0)
