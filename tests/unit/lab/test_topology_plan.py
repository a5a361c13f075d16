# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's address plan, and what ``lab up`` would build from it, without building anything.

``lab.lab.run`` is replaced by a recorder, so the ``ip`` commands of build_subnets() and
configure_host_routes() are read instead of run (no namespace, no root). The vpc-router's
addresses they assign go through lab/router_agent.py's own desired_state(): each subnet,
also the probe subnet with its two utility hosts, must come out as one rule on one device.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time

import yaml

from harness.paths import REPO_ROOT
from lab import lab
from lab import nspawn
from lab import topology as topo
from lab.router_agent import desired_state

VPC_ID = "vpc-1"
LAB_VARS = os.path.join(REPO_ROOT, "inventories", "lab", "group_vars", "all", "lab.yml")
FAILOVER_VARS = os.path.join(REPO_ROOT, "inventories", "lab", "group_vars", "all", "failover.yml")


def recorded_commands(monkeypatch, *steps):
    """The argv of every command ``steps`` would run."""
    commands = []

    def record(argv, check=True, input_text=None, timeout=60):  # pylint: disable=unused-argument
        commands.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(lab, "run", record)
    for step in steps:
        step()
    return commands


def router_networks(commands):
    """``[(network, device)]`` of the addresses the commands put in the vpc-router (as local_networks() reads them)."""
    router = topo.namespace("vpc-router")
    return [(ipaddress.ip_interface(argv[5]).network, argv[7]) for argv in commands
            if argv[:5] == ["ip", "-n", router, "address", "add"]]


def test_the_probe_subnet_holds_both_utility_hosts_and_every_device_name_fits_the_kernels_limit():
    probe = topo.subnet_of("utility")
    assert (probe.name, probe.bridged, topo.subnet_of("utility-2")) == ("privatesubnet2", True, probe)
    assert [(member.name, member.address) for member in probe.hosts] == [("utility", "198.18.3.10"), ("utility-2", "198.18.3.11")]
    assert topo.UTILITY_HOSTS == ("utility", "utility-2") and set(topo.UTILITY_HOSTS) <= set(topo.HOSTS)
    assert [topo.router_port(host) for host in ("utility", "utility-2", "workload")] == ["sn2-utility", "sn2-utility-2", "sn-private1"]
    devices = [subnet.router_device for subnet in topo.SUBNETS] + [member.port_device for subnet in topo.SUBNETS for member in subnet.hosts]
    assert all(len(device) <= topo.MAX_DEVICE_NAME for device in devices)
    addresses = [member.address for subnet in topo.SUBNETS for member in subnet.hosts]
    assert len(addresses) == len(set(addresses))
    for subnet in topo.SUBNETS:
        network = ipaddress.ip_network(subnet.cidr)
        assert all(ipaddress.ip_address(address) in network for address in [subnet.router_address] + [m.address for m in subnet.hosts])
        # A host of a bridged subnet needs its own port; an unbridged subnet's one host uses the subnet's device.
        assert all(member.port_device for member in subnet.hosts) == subnet.bridged


def test_the_probe_subnet_is_one_bridge_in_the_vpc_router_with_a_port_per_utility_host(monkeypatch):
    commands = recorded_commands(monkeypatch, lab.build_subnets)
    router = topo.namespace("vpc-router")
    assert ["ip", "-n", router, "link", "add", "sn-private2", "type", "bridge"] in commands
    for host in ("utility", "utility-2"):
        port = topo.router_port(host)
        assert ["ip", "link", "add", "name", port, "netns", router, "type", "veth", "peer", "name", "eth0", "netns", topo.namespace(host)] in commands
        assert ["ip", "-n", router, "link", "set", port, "master", "sn-private2"] in commands
    assert ["ip", "-n", topo.namespace("utility-2"), "address", "add", "198.18.3.11/24", "dev", "eth0"] in commands
    # The one-host subnets stay one veth each, with no bridge.
    assert ["ip", "link", "add", "name", "sn-private1", "netns", router, "type", "veth", "peer", "name", "eth0",
            "netns", topo.namespace("workload")] in commands
    assert [argv for argv in commands if argv[-2:] == ["type", "bridge"]] == [["ip", "-n", router, "link", "add", "sn-private2", "type", "bridge"]]


def test_the_router_agent_gives_each_subnet_one_rule_on_the_device_holding_its_gateway(monkeypatch):
    networks = router_networks(recorded_commands(monkeypatch, lab.build_subnets))
    assert sorted(device for _network, device in networks) == ["sn-private1", "sn-private2", "sn-public1"]
    subnets = [{"SubnetId": "subnet-%s" % subnet.name, "CidrBlock": subnet.cidr, "VpcId": VPC_ID} for subnet in topo.SUBNETS]
    tables = [{"RouteTableId": "rtb-%s" % subnet.name, "VpcId": VPC_ID, "Routes": [],
               "Associations": [{"SubnetId": "subnet-%s" % subnet.name}]} for subnet in topo.SUBNETS]
    api = {"route_tables": tables, "subnets": subnets, "vpc_cidrs": {VPC_ID: [topo.VPC_CIDR]}, "eni_addresses": {}, "prefix_list_entries": {}}
    rules, kernel_tables = desired_state(api, networks, topo.DX_ONPREM_ADDRESS, {})
    assert sorted(rules) == ["sn-private1", "sn-private2", "sn-public1"]
    # Both utility hosts' traffic is routed by the probe subnet's table, and reaches them through the bridge.
    assert kernel_tables[rules["sn-private2"]]["198.18.3.0/24"] == "dev sn-private2"


def test_every_host_of_a_private_subnet_routes_through_the_subnets_gateway(monkeypatch):
    commands = recorded_commands(monkeypatch, lab.configure_host_routes)
    for host in ("workload", "utility", "utility-2"):
        assert ["ip", "netns", "exec", topo.namespace(host), "ip", "route", "add", "default", "via", topo.subnet_of(host).router_address] in commands


def test_the_lab_inventory_launches_both_utility_instances_at_the_topologys_addresses_and_maps_them_to_their_machines():
    with open(LAB_VARS, encoding="utf-8") as handle:
        lab_vars = yaml.safe_load(handle)
    with open(FAILOVER_VARS, encoding="utf-8") as handle:
        failover = yaml.safe_load(handle)
    machine_by_address = lab_vars["lz_lab_machine_by_address"]
    for host in topo.UTILITY_HOSTS + ("vpn-appliance",):
        assert machine_by_address[topo.subnet_host(host).address] == host
    assert [lab_vars["lz_lab_utility_address"], lab_vars["lz_lab_utility_2_address"]] == [topo.subnet_host(h).address for h in topo.UTILITY_HOSTS]
    assert failover["utility_instance_count"] == len(topo.UTILITY_HOSTS)
    assert failover["utility_instance_private_ips"] == ["{{ lz_lab_utility_address }}", "{{ lz_lab_utility_2_address }}"]
    assert "utility_instance_private_ip" not in failover
    # The fault playbook isolates a utility host by its port in the vpc-router.
    assert lab_vars["lz_lab_router_port_by_machine"] == {host: topo.router_port(host) for host in topo.UTILITY_HOSTS}


# A stand-in for systemd-nspawn or a container's init: it notes a SIGTERM (which an orderly
# poweroff sends and a power cut must not) and otherwise sleeps.
STAND_IN = "import signal, sys, time\n" \
    "signal.signal(signal.SIGTERM, lambda *_: open(sys.argv[1], 'w').close())\n" \
    "open(sys.argv[2], 'w').close()\n" \
    "time.sleep(600)\n"


def start_stand_in(tmp_path, name):
    ready = tmp_path / (name + ".ready")
    process = subprocess.Popen([sys.executable, "-c", STAND_IN, str(tmp_path / (name + ".sigterm")), str(ready)])  # pylint: disable=consider-using-with
    while not ready.exists():  # the handler is installed before the file appears
        time.sleep(0.01)
    return process


def test_kill_cuts_a_hosts_power_without_a_sigterm_and_forgets_it(tmp_path, monkeypatch):
    monkeypatch.setattr(nspawn, "STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(nspawn, "PROPAGATE_DIR", str(tmp_path / "propagate"))
    fake_nspawn, fake_init = start_stand_in(tmp_path, "nspawn"), start_stand_in(tmp_path, "init")
    try:
        nspawn.save(nspawn.Host(name="utility-2", netns="lzlab-utility-2", rootfs="/", nspawn_pid=fake_nspawn.pid,
                                nspawn_start=nspawn.process_start_time(fake_nspawn.pid), init_pid=fake_init.pid,
                                init_start=nspawn.process_start_time(fake_init.pid)))
        assert nspawn.kill("utility-2") is True
        # kill() waited for both (and reaped them, they being this test's children).
        assert [nspawn.process_start_time(process.pid) for process in (fake_nspawn, fake_init)] == [None, None]
        assert not (tmp_path / "nspawn.sigterm").exists() and not (tmp_path / "init.sigterm").exists()
        assert nspawn.load("utility-2") is None
        assert nspawn.kill("utility-2") is False
    finally:
        for process in (fake_nspawn, fake_init):
            if process.poll() is None:
                process.kill()
                process.wait()
