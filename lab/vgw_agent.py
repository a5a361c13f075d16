# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VGW's learned prefixes follow the lab's DX BGP session.

On AWS the virtual private gateway learns the on-premises prefixes over the
Direct Connect BGP session and propagates them into route tables.  In the lab the
VGW side of that session is BIRD in the vpc-router host; this agent reads what
BIRD has learned (``birdc show route protocol dx``, inside the host) and PUTs it
to the EC2 endpoint's control API for every VGW attached to a VPC, so
DescribeRouteTables shows propagated routes for exactly those prefixes, and none
while the session is down.

It also plays Direct Connect's BGP failover test: while the endpoint has a test in
progress on the lab's virtual interface (``GET /_fidelity/directconnect/tests``), the
agent keeps the BGP session disabled in BIRD (``birdc disable dx``), as AWS brings the
peering down for the test; when the test is stopped or runs out, it enables it again.

It checks every ``--interval`` seconds and writes one JSON line per change.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import boto3

from lab import nspawn
from lab import topology as topo

# A route line of `birdc show route`: the prefix opens the line.
ROUTE_LINE = re.compile(r"^(\d+\.\d+\.\d+\.\d+/\d+)\s")
# Describing the VGWs is only needed to find new ones: not on every BIRD check.
VGW_REFRESH_SECONDS = 2.0


def emit(event, **fields):
    print(json.dumps(dict(fields, event=event, time=round(time.time(), 3))), flush=True)


def learned_prefixes(router_pid, protocol):
    """The IPv4 prefixes BIRD holds from ``protocol`` (empty when the session is down), or None if BIRD did not answer."""
    completed = subprocess.run(nspawn.nsenter_argv(router_pid, ["birdc", "-r", "show", "route", "protocol", protocol]),
                               capture_output=True, text=True, timeout=10, check=False)
    if completed.returncode != 0 or "BIRD" not in completed.stdout:
        return None
    prefixes = (ROUTE_LINE.match(line) for line in completed.stdout.splitlines())
    return sorted({match.group(1) for match in prefixes if match})


def attached_vgw_ids(ec2):
    gateways = ec2.describe_vpn_gateways()["VpnGateways"]
    return sorted(gateway["VpnGatewayId"] for gateway in gateways
                  if gateway.get("State") == "available" and any(a.get("State") == "attached" for a in gateway.get("VpcAttachments", [])))


def put_prefixes(endpoint, vgw_id, prefixes):
    body = json.dumps({"prefixes": prefixes, "region": topo.REGION}).encode()
    request = urllib.request.Request("%s/_fidelity/vgw/%s/prefixes" % (endpoint, vgw_id), data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status == 200


def failover_test_running(endpoint, virtual_interface_id):
    """Whether the endpoint's Direct Connect has a BGP failover test in progress on the virtual interface."""
    url = "%s/_fidelity/directconnect/tests?region=%s&status=in-progress" % (endpoint, topo.REGION)
    with urllib.request.urlopen(url, timeout=10) as response:
        tests = json.loads(response.read())["tests"]
    return any(test.get("virtualInterfaceId") == virtual_interface_id for test in tests)


def set_bgp_session(router_pid, protocol, enabled):
    command = "enable" if enabled else "disable"
    subprocess.run(nspawn.nsenter_argv(router_pid, ["birdc", command, protocol]), capture_output=True, text=True, timeout=10, check=True)


class Agent:
    """Keeps every attached VGW's learned prefixes equal to what BIRD learned."""

    def __init__(self, args):
        self.args = args
        self.ec2 = boto3.client("ec2", region_name=topo.REGION, endpoint_url=args.endpoint)
        self.published = {}  # vgw_id -> prefixes last PUT
        self.vgw_ids = []
        self.vgws_checked = 0.0
        self.prefixes = None
        self.test_holds_bgp_down = False

    def refresh_vgws(self):
        if time.monotonic() - self.vgws_checked >= VGW_REFRESH_SECONDS:
            self.vgw_ids = attached_vgw_ids(self.ec2)
            self.vgws_checked = time.monotonic()
            self.published = {vgw_id: prefixes for vgw_id, prefixes in self.published.items() if vgw_id in self.vgw_ids}

    def follow_failover_test(self):
        running = failover_test_running(self.args.endpoint, topo.DX_VIRTUAL_INTERFACE_ID)
        if running != self.test_holds_bgp_down:
            set_bgp_session(self.args.router_pid, self.args.protocol, enabled=not running)
            self.test_holds_bgp_down = running
            emit("bgp-failover-test-started" if running else "bgp-failover-test-ended", virtual_interface_id=topo.DX_VIRTUAL_INTERFACE_ID)

    def step(self):
        self.follow_failover_test()
        prefixes = learned_prefixes(self.args.router_pid, self.args.protocol)
        if prefixes is None:
            return
        if prefixes != self.prefixes:
            emit("bgp-learned", prefixes=prefixes)
            self.prefixes = prefixes
        self.refresh_vgws()
        for vgw_id in self.vgw_ids:
            if self.published.get(vgw_id) != prefixes and put_prefixes(self.args.endpoint, vgw_id, prefixes):
                self.published[vgw_id] = prefixes
                emit("vgw-prefixes-set", vgw_id=vgw_id, prefixes=prefixes)

    def run(self, stop):
        emit("started", endpoint=self.args.endpoint, protocol=self.args.protocol)
        while not stop.is_set():
            try:
                self.step()
            except Exception as error:  # pylint: disable=broad-exception-caught  # keep following BGP; say why a round failed
                emit("error", message=str(error))
                self.vgws_checked = 0.0
            stop.wait(self.args.interval)
        emit("stopped")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Make the lab VGW's learned prefixes follow the DX BGP session in BIRD.")
    parser.add_argument("--endpoint", default=topo.ENDPOINT_URL)
    parser.add_argument("--router-pid", type=int, required=True, help="init PID of the vpc-router host (where BIRD runs)")
    parser.add_argument("--protocol", default="dx", help="BIRD protocol of the DX session (default dx)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between BIRD checks (default 0.2)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Agent(args).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
