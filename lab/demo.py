# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A failover and failback in the lab, with a timeline of what happened where.

Needs a converged lab (``bash lab/lab.sh up`` and ``site.yml`` (``bash lab/lab.sh site``)).  While
the workload pings onprem-host every 50 ms (and opens a TCP connection to its test
service every 0.5 s), the demo cuts DX with ``playbooks/lab_fault.yml``, waits for
the traffic to run over IPsec, restores DX and waits for the failback.  A watcher
samples every 20 ms: the fault's nftables table, the route table in the EC2 API,
the VRRP state files, the lease holder's monitor state file and the ESP tunnel's packet
counters; the agents' logs give the BGP withdrawal and the kernel route change.

    python -m lab.demo [--json FILE]      (from the repository root; bash lab/lab.sh demo)

Exit status 0 when traffic moved to the VPN and back and the workload's flow
survived (at most ``--max-outage`` seconds without replies).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

import boto3

from harness.waiting import first_within
from lab import lab
from lab import monitors
from lab import topology as topo

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SAMPLE_SECONDS = 0.02
PING_INTERVAL = 0.05
TCP_INTERVAL = 0.5
VRRP_STATE = "/var/lib/lz-fhrp/lan_gateway.state"
PING_LINE = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")
TCP_PROBE = """
import socket, sys, time
while True:
    started = time.time()
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.4).close()
        print("%.3f ok" % started, flush=True)
    except OSError:
        print("%.3f fail" % started, flush=True)
    time.sleep(max(0.0, float(sys.argv[3]) - (time.time() - started)))
"""


def now():
    return time.time()


def read_inside(pids, host, path):
    """A file inside a lab host, read through /proc/PID/root: no process is started per sample."""
    try:
        with open("/proc/%d/root%s" % (pids[host], path), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def vrrp_master(pids):
    for host in ("onprem-dx", "onprem-vpn"):
        text = read_inside(pids, host, VRRP_STATE)
        if text and json.loads(text).get("state") == "MASTER":
            return host
    return None


def tunnel_tx_packets():
    completed = subprocess.run(["ip", "-n", topo.namespace("vpn-appliance"), "-s", "-j", "link", "show", "ipsec0"],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return 0
    return json.loads(completed.stdout)[0]["stats64"]["tx"]["packets"]


def fault_active():
    completed = subprocess.run(["ip", "netns", "exec", topo.namespace("vpc-router"), "nft", "list", "table", "inet", "lzlab_fault"],
                               capture_output=True, text=True, check=False)
    return completed.returncode == 0


class Watcher(threading.Thread):
    """Samples every observable and keeps the time each one changed."""

    def __init__(self, pids, route_table_id, monitor_machine):
        super().__init__(daemon=True)
        self.pids = pids
        self.monitor_machine = monitor_machine
        self.route_table_id = route_table_id
        self.ec2 = boto3.client("ec2", region_name=topo.REGION, endpoint_url=topo.ENDPOINT_URL,
                                aws_access_key_id=lab.AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"], aws_secret_access_key=lab.AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])
        self.events = []
        self.stop_event = threading.Event()
        self.last = {}

    def api_path(self):
        table = self.ec2.describe_route_tables(RouteTableIds=[self.route_table_id])["RouteTables"][0]
        static = [route for route in table["Routes"] if route.get("DestinationCidrBlock") == topo.ONPREM_CIDR and route.get("Origin") == "CreateRoute"]
        return "vpn" if static else "dx"

    def monitor_path(self):
        text = read_inside(self.pids, self.monitor_machine, monitors.MONITOR_STATE)
        return json.loads(text).get("desired_path") if text else None

    def note(self, name, value, at):
        if name in self.last and self.last[name] != value:
            self.events.append((at, name, self.last[name], value))
        self.last[name] = value

    def sample(self):
        at = now()
        self.note("fault", fault_active(), at)
        self.note("api", self.api_path(), at)
        self.note("monitor", self.monitor_path(), at)
        self.note("vrrp", vrrp_master(self.pids), at)
        packets = tunnel_tx_packets()
        previous = self.last.get("tunnel_tx")
        if previous is not None and packets > previous:
            self.events.append((at, "tunnel_tx", previous, packets))
        self.last["tunnel_tx"] = packets

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.sample()
            except Exception as error:  # pylint: disable=broad-exception-caught  # one bad sample must not end the timeline
                print("[demo] sample failed: %s" % error, file=sys.stderr)
            self.stop_event.wait(SAMPLE_SECONDS)

    def shows_within(self, name, value, timeout):
        """Whether the sampled ``name`` reads ``value`` within ``timeout`` seconds."""
        return first_within(lambda: self.last.get(name) == value, timeout, SAMPLE_SECONDS) is not None


def start_flows(workload_ns):
    ping = subprocess.Popen(  # pylint: disable=consider-using-with
        ["ip", "netns", "exec", workload_ns, "ping", "-D", "-n", "-i", str(PING_INTERVAL), "-W", "1", topo.PROBE_TARGET],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    tcp = subprocess.Popen(  # pylint: disable=consider-using-with
        ["ip", "netns", "exec", workload_ns, "python3", "-c", TCP_PROBE, topo.PROBE_TARGET, str(topo.TEST_SERVICE_PORT), str(TCP_INTERVAL)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return ping, tcp


def stop_flow(process):
    process.terminate()
    return process.communicate(timeout=10)[0]


def ping_replies(output):
    return [(float(match.group(1)), int(match.group(2))) for match in map(PING_LINE.match, output.splitlines()) if match]


def outages(replies, threshold):
    """``[(start, seconds, lost)]`` of every gap between replies longer than ``threshold``."""
    gaps = []
    for (t_a, seq_a), (t_b, seq_b) in zip(replies, replies[1:]):
        if t_b - t_a > threshold:
            gaps.append((t_a, round(t_b - t_a, 2), seq_b - seq_a - 1))
    return gaps


def agent_events(name, event):
    """Times of one kind of event in an agent's JSON log."""
    times = []
    with open(lab.process_log(name), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == event:
                    times.append(record)
    return times


def run_fault(fault):
    argv = [os.path.join(REPO_ROOT, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(REPO_ROOT, "inventories", "lab"),
            os.path.join(REPO_ROOT, "playbooks", "lab_fault.yml"), "-e", "lab_fault=%s" % fault]
    subprocess.run(argv, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg")))


def first_after(events, name, since, value=None):
    for at, event_name, _old, new in events:
        if event_name == name and at >= since and (value is None or new == value):
            return at
    return None


def build_timeline(watcher, phases, tcp_lines):
    """``[(time, what)]`` in order, from the watcher's samples and the agents' logs."""
    cut, restored = phases["cut"], phases["restore"]
    rows = [(cut, "fault: DX cut (nftables on the DX link)"), (restored, "restore: DX repaired")]
    for record in agent_events("vgw-agent", "vgw-prefixes-set"):
        if record["time"] >= cut:
            rows.append((record["time"], "BGP: VGW learned prefixes now %s" % (record["prefixes"] or "[] (session down)")))
    for record in agent_events("router-agent", "kernel-routes-changed"):
        if record["time"] >= cut:
            for change in record["changes"]:
                if change.get("destination") == topo.ONPREM_CIDR:
                    rows.append((record["time"], "kernel: vpc-router table %s %s -> %s" % (change["table"], topo.ONPREM_CIDR, change["route"] or "removed")))
    for at, name, old, new in watcher.events:
        if name in ("monitor", "api", "vrrp"):
            label = {"monitor": "monitor: desired path", "api": "API: privatesubnet1 route table path", "vrrp": "VRRP: gateway master"}[name]
            rows.append((at, "%s %s -> %s" % (label, old, new)))
    first_vpn = first_after(watcher.events, "tunnel_tx", cut)
    if first_vpn:
        rows.append((first_vpn, "ESP: first packet into the tunnel (ipsec0 tx) after the cut"))
    last_vpn = max((at for at, name, _o, _n in watcher.events if name == "tunnel_tx" and at < restored + 60), default=None)
    if last_vpn and last_vpn > restored:
        rows.append((last_vpn, "ESP: last packet into the tunnel (traffic back on DX)"))
    failed_tcp = [float(line.split()[0]) for line in tcp_lines if line.endswith("fail")]
    if failed_tcp:
        rows.append((failed_tcp[0], "TCP: first failed connection to onprem-host:%d" % topo.TEST_SERVICE_PORT))
    return sorted(rows)


def print_timeline(rows, origin):
    print("\n%10s  %s" % ("t (s)", "event"))
    for at, what in rows:
        print("%10.3f  %s" % (at - origin, what))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Cut DX, watch the failover, restore, watch the failback.")
    parser.add_argument("--json", help="write the timeline and the numbers to this file")
    parser.add_argument("--max-outage", type=float, default=10.0, help="longest acceptable gap in the ping flow (s)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for each phase")
    args = parser.parse_args(argv)

    pids = lab.host_pids()
    with open(lab.PROVISION_VARS_FILE, encoding="utf-8") as handle:
        route_table_id = re.search(r"^- (rtb-\w+)", handle.read(), re.MULTILINE).group(1)
    # Two monitors decide, only the lease holder's decision moves the routes: follow its state file.
    holder = monitors.holder_machine(pids)
    print("[demo] the monitor in %s holds the lease" % holder, flush=True)
    watcher = Watcher(pids, route_table_id, holder)
    watcher.start()
    ping, tcp = start_flows(topo.namespace("workload"))
    phases = {}
    try:
        time.sleep(2)
        print("[demo] cutting DX", flush=True)
        run_fault("dx_down")
        phases["cut"] = first_after(watcher.events, "fault", 0, True) or now()
        moved = watcher.shows_within("vrrp", "onprem-vpn", args.settle) and watcher.shows_within("api", "vpn", args.settle)
        time.sleep(3)
        print("[demo] restoring DX", flush=True)
        run_fault("restore")
        phases["restore"] = first_after(watcher.events, "fault", phases["cut"], False) or now()
        back = watcher.shows_within("api", "dx", args.settle + 30) and watcher.shows_within("vrrp", "onprem-dx", args.settle)
        time.sleep(2)
    finally:
        watcher.stop_event.set()
        ping_output, tcp_output = stop_flow(ping), stop_flow(tcp)
    replies = ping_replies(ping_output)
    gaps = outages(replies, 3 * PING_INTERVAL + 0.1)
    rows = build_timeline(watcher, phases, tcp_output.splitlines())
    print_timeline(rows, phases["cut"])
    print("\nworkload -> onprem-host ping every %.2f s: %d replies; gaps: %s" % (
        PING_INTERVAL, len(replies), ", ".join("%.2f s (%d lost) at t=%.2f" % (g[1], g[2], g[0] - phases["cut"]) for g in gaps) or "none"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"timeline": [(round(at - phases["cut"], 3), what) for at, what in rows], "gaps": gaps, "replies": len(replies)}, handle, indent=2)
    longest = max((gap[1] for gap in gaps), default=0.0)
    ok = moved and back and longest <= args.max_outage
    print("[demo] %s" % ("failover and failback done" if ok else "FAILED (moved=%s back=%s longest gap %.2f s)" % (moved, back, longest)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
