# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover lab: a Local Zone VPC, Direct Connect, a VPN and an on-premises LAN on one machine.

``up`` builds the topology of lab/README.md: a network namespace per host, veth
links, a bridge for the on-premises LAN, the hosts booted with lab/nspawn.py, BIRD
on the VGW end of the DX link (onprem-dx's is the dx_router role's), a test service on onprem-host, the EC2 endpoint
(tools/endpoint/) on the host's end of the one host link, and the VPC
router's two agents (lab/vgw_agent.py: BGP -> learned VGW prefixes;
lab/router_agent.py: route tables -> kernel policy routing).  ``down`` removes
all of it, ending processes by their recorded PID.  Everything runs as root.

The AWS resources (VPC, route tables, the appliance's ENI...) are not made
here: ``site.yml`` (``bash lab/lab.sh site``) provisions them with the collection's roles.

CLI (from the repository root)::

    python -m lab.lab up
    python -m lab.lab dx-router     # only the dx_router role on onprem-dx (site.yml includes it)
    python -m lab.lab status
    python -m lab.lab down
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from lab import nspawn
from lab import topology as topo

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STATE_DIR = os.environ.get("LZLAB_TOPOLOGY_DIR", "/run/lzlab-topology")
STATE_FILE = os.path.join(STATE_DIR, "state.json")
CACHE_DIR = os.path.join(REPO_ROOT, ".cache", "lab")
PSK_FILE = os.path.join(CACHE_DIR, "psk")
# The DX virtual interface's BGP MD5 key: the VGW side's BIRD gets it from `up`, onprem-dx's from
# the dx_router role (inventories/lab/group_vars/dx_routers.yml looks it up here).
BGP_MD5_KEY_FILE = os.path.join(CACHE_DIR, "dx-bgp-md5-key")
# Where the AWS inventory looks for the pre-shared key (<lz_failover_name>/vpn-psk,
# inventories/aws/group_vars/all/vpn.yml): the lab keeps it in the endpoint's Secrets Manager too.
PSK_SECRET_NAME = "lz-failover/vpn-psk"
# Written by provision.yml; the resources it names live in the endpoint and go with it.
PROVISION_VARS_FILE = os.path.join(CACHE_DIR, "provision.yml")
VENV_PYTHON = os.path.join(REPO_ROOT, ".venv", "bin", "python")
NETNS_DIR = "/run/netns"
NFT_TABLE = "lzlab"
# Dummy keys: the lab endpoint accepts any, and no real credential can leak into it.
AWS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": topo.REGION}
PROCESS_STOP_SECONDS = 5


class LabUpError(RuntimeError):
    """The lab could not be built (``up`` has removed what it made)."""


def run(argv, check=True, input_text=None, timeout=60):
    completed = subprocess.run(argv, capture_output=True, text=True, input=input_text, timeout=timeout, check=False)
    if check and completed.returncode != 0:
        raise LabUpError("%s failed (exit %d): %s" % (" ".join(argv), completed.returncode, completed.stderr.strip()))
    return completed


def in_namespace(role, argv, check=True, input_text=None):
    return run(["ip", "netns", "exec", topo.namespace(role)] + list(argv), check=check, input_text=input_text)


def log(message):
    print("[lab] %s %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- state


def load_state():
    try:
        with open(STATE_FILE, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return None


def save_state(state):
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    temporary = STATE_FILE + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
    os.replace(temporary, STATE_FILE)


def new_state():
    return {"namespaces": [], "host_link": None, "hosts": [], "processes": {}, "up_seconds": None}


# --------------------------------------------------------------------------- network plumbing


def add_namespace(state, role):
    name = topo.namespace(role)
    run(["ip", "netns", "add", name])
    state["namespaces"].append(name)
    save_state(state)
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def add_address(role, device, cidr):
    run(["ip", "-n", topo.namespace(role), "address", "add", cidr, "dev", device])


def veth(role_a, device_a, role_b, device_b):
    """A veth pair made inside its two namespaces, so no end ever shows in the host namespace."""
    ns_a, ns_b = topo.namespace(role_a), topo.namespace(role_b)
    run(["ip", "link", "add", "name", device_a, "netns", ns_a, "type", "veth", "peer", "name", device_b, "netns", ns_b])
    run(["ip", "-n", ns_a, "link", "set", device_a, "up"])
    run(["ip", "-n", ns_b, "link", "set", device_b, "up"])


def build_subnets():
    for subnet in topo.SUBNETS:
        if subnet.bridged:
            build_bridged_subnet(subnet)
        else:
            veth("vpc-router", subnet.router_device, subnet.host, "eth0")
        add_address("vpc-router", subnet.router_device, "%s/%s" % (subnet.router_address, subnet.prefix))
        for member in subnet.hosts:
            add_address(member.name, "eth0", "%s/%s" % (member.address, subnet.prefix))


def build_bridged_subnet(subnet):
    """A subnet with several hosts: a bridge in the vpc-router (the subnet's one interface there), a port per host.

    The router agent sees one device holding the subnet's .1, as for a one-host subnet
    (lab/topology.py, Subnet): routed traffic from every host arrives on the bridge.
    """
    router = topo.namespace("vpc-router")
    run(["ip", "-n", router, "link", "add", subnet.router_device, "type", "bridge"])
    run(["ip", "-n", router, "link", "set", subnet.router_device, "up"])
    for member in subnet.hosts:
        veth("vpc-router", member.port_device, member.name, "eth0")
        run(["ip", "-n", router, "link", "set", member.port_device, "master", subnet.router_device])


def build_point_to_point_links():
    veth("vpc-router", topo.DX_DEVICE, "onprem-dx", topo.DX_DEVICE)
    add_address("vpc-router", topo.DX_DEVICE, "%s/%d" % (topo.DX_VGW_ADDRESS, topo.LINK_PREFIX))
    add_address("onprem-dx", topo.DX_DEVICE, "%s/%d" % (topo.DX_ONPREM_ADDRESS, topo.LINK_PREFIX))
    veth("vpn-appliance", topo.INTERNET_DEVICE, "onprem-vpn", topo.INTERNET_DEVICE)
    add_address("vpn-appliance", topo.INTERNET_DEVICE, "%s/%d" % (topo.INTERNET_APPLIANCE_ADDRESS, topo.LINK_PREFIX))
    add_address("onprem-vpn", topo.INTERNET_DEVICE, "%s/%d" % (topo.INTERNET_ONPREM_ADDRESS, topo.LINK_PREFIX))


def build_lan():
    lan = topo.namespace(topo.LAN_NAMESPACE_ROLE)
    run(["ip", "-n", lan, "link", "add", topo.LAN_BRIDGE, "type", "bridge"])
    run(["ip", "-n", lan, "link", "set", topo.LAN_BRIDGE, "up"])
    prefix = topo.ONPREM_CIDR.split("/")[1]
    for port in topo.LAN_PORTS:
        veth(topo.LAN_NAMESPACE_ROLE, port.bridge_device, port.host, "eth0")
        run(["ip", "-n", lan, "link", "set", port.bridge_device, "master", topo.LAN_BRIDGE])
        add_address(port.host, "eth0", "%s/%s" % (port.address, prefix))


def build_host_link(state):
    """The one link into the host namespace: it carries only its own /30 (the EC2 endpoint)."""
    router_ns = topo.namespace("vpc-router")
    run(["ip", "link", "add", "name", topo.HOST_LINK_DEVICE, "type", "veth", "peer", "name", "api0", "netns", router_ns])
    state["host_link"] = topo.HOST_LINK_DEVICE
    save_state(state)
    run(["ip", "address", "add", "%s/%d" % (topo.HOST_LINK_HOST, topo.HOST_LINK_PREFIX), "dev", topo.HOST_LINK_DEVICE])
    run(["ip", "link", "set", topo.HOST_LINK_DEVICE, "up"])
    add_address("vpc-router", "api0", "%s/%d" % (topo.HOST_LINK_ROUTER, topo.HOST_LINK_PREFIX))
    run(["ip", "-n", router_ns, "link", "set", "api0", "up"])


def configure_host_routes():
    """What each host's own routing table holds; the VPC router's is the router agent's work."""
    for subnet in topo.SUBNETS:
        for member in subnet.hosts:
            if member.name == "vpn-appliance":
                # The appliance reaches on-premises through its tunnel; only the VPC goes to the VPC router.
                in_namespace(member.name, ["ip", "route", "add", topo.VPC_CIDR, "via", subnet.router_address])
            else:
                in_namespace(member.name, ["ip", "route", "add", "default", "via", subnet.router_address])
    in_namespace("onprem-host", ["ip", "route", "add", "default", "via", topo.VRRP_ADDRESS])


def configure_forwarding():
    for role in ("vpc-router", "vpn-appliance", "onprem-dx", "onprem-vpn"):
        in_namespace(role, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        # Traffic is asymmetric during a failover (out over DX, back over the VPN): no strict reverse-path check.
        in_namespace(role, ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])


def endpoint_nat_rules():
    # Hosts in the subnets reach the endpoint as if it were a VPC interface endpoint; the host
    # namespace only knows its /30, so their traffic leaves the VPC router with its address.
    return (
        "table ip %s {\n"
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n"
        "    oifname \"api0\" ip daddr %s masquerade\n"
        "  }\n"
        "}\n" % (NFT_TABLE, topo.HOST_LINK_HOST)
    )


def build_network(state):
    for role in topo.HOSTS + (topo.LAN_NAMESPACE_ROLE,):
        add_namespace(state, role)
    build_subnets()
    build_point_to_point_links()
    build_lan()
    build_host_link(state)
    configure_host_routes()
    configure_forwarding()
    in_namespace("vpc-router", ["nft", "-f", "-"], input_text=endpoint_nat_rules())


# --------------------------------------------------------------------------- hosts


def boot_hosts(state, rootfs):
    def boot(host):
        return nspawn.up(host, topo.namespace(host), rootfs=rootfs, timeout=90)

    state["hosts"] = list(topo.HOSTS)
    save_state(state)
    with ThreadPoolExecutor(max_workers=len(topo.HOSTS)) as pool:
        booted = list(pool.map(boot, topo.HOSTS))
    return {host.name: host.init_pid for host in booted}


def write_file_inside(init_pid, path, content, mode="0644"):
    nspawn.run_inside(init_pid, ["install", "-D", "-m", mode, "/dev/stdin", path], input_text=content)


def vgw_bird_config(md5_key):
    """The VGW side, as Direct Connect runs it: eBGP with the MD5 key and asynchronous BFD.

    It announces the VPC and learns the on-premises prefixes but installs none (the route
    tables decide).  The reconnect timers are short, as the DX router role's: AWS's side
    answers a repaired link within seconds, not after BIRD's one-minute error wait.
    """
    return dx_peer_bird_config(local=(topo.DX_VGW_ADDRESS, topo.VGW_ASN), neighbor=(topo.DX_ONPREM_ADDRESS, topo.ONPREM_ASN),
                               md5_key=md5_key, announced=[topo.VPC_CIDR], hold_keepalive=(topo.BGP_HOLD_SECONDS, topo.BGP_KEEPALIVE_SECONDS),
                               bfd=(topo.BFD_INTERVAL_MS, topo.BFD_MULTIPLIER))


def dx_peer_bird_config(local, neighbor, md5_key, announced, hold_keepalive, bfd):
    """BIRD playing AWS's end of a Direct Connect virtual interface (the lab's VGW side, and the dx_router
    role's test peer): ``local`` and ``neighbor`` are (address, ASN), ``announced`` the prefixes of
    protocol ``vpc`` (unreachable in BIRD, exported to the peer), ``bfd`` (interval ms, multiplier)."""
    routes = "".join(" route %s unreachable;" % prefix for prefix in announced)
    settings = (local[0], routes, local[0], local[1], neighbor[0], neighbor[1], md5_key,
                hold_keepalive[0], hold_keepalive[1], bfd[0], bfd[0], bfd[1])
    return (
        "router id %s;\n"
        "protocol device { }\n"
        "protocol static vpc { ipv4;%s }\n"
        "protocol bfd { }\n"
        "protocol bgp dx {\n"
        "  local %s as %d;\n"
        "  neighbor %s as %d;\n"
        "  password \"%s\";\n"
        "  hold time %d; keepalive time %d;\n"
        "  bfd { min tx interval %d ms; min rx interval %d ms; multiplier %d; };\n"
        "  connect delay time 1; connect retry time 1; error wait time 1, 2;\n"
        "  ipv4 { import all; export where proto = \"vpc\"; };\n"
        "}\n" % settings
    )


def start_vgw_bird(init_pid):
    """BIRD in the vpc-router; its configuration holds the MD5 key, so only bird may read it."""
    write_file_inside(init_pid, "/etc/bird/bird.conf", vgw_bird_config(read_secret(BGP_MD5_KEY_FILE)), mode="0600")
    nspawn.run_inside(init_pid, ["chown", "bird:bird", "/etc/bird/bird.conf"])
    nspawn.run_inside(init_pid, ["systemctl", "start", "bird.service"])


def start_test_service(init_pid):
    """A TCP service on onprem-host that the workload connects to (HTTP, so a probe sees a real answer)."""
    nspawn.run_inside(init_pid, ["install", "-d", "/srv/lab"])
    write_file_inside(init_pid, "/srv/lab/index.html", "onprem-host\n")
    nspawn.run_inside(init_pid, [
        "systemd-run", "--unit=lab-test-service", "--property=Restart=always",
        "python3", "-m", "http.server", "--bind", topo.PROBE_TARGET, "--directory", "/srv/lab", str(topo.TEST_SERVICE_PORT),
    ])


# --------------------------------------------------------------------------- processes


def process_log(name):
    return os.path.join(STATE_DIR, name + ".log")


def start_process(state, name, argv, netns=None):
    """Start a lab process in its own session, logging to STATE_DIR; record its PID and start time."""
    if netns:
        argv = ["ip", "netns", "exec", netns] + list(argv)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **AWS_ENVIRONMENT)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    with open(process_log(name), "wb") as output:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=REPO_ROOT)
    state["processes"][name] = {"pid": process.pid, "start": nspawn.process_start_time(process.pid) or 0, "log": process_log(name)}
    save_state(state)
    return process


def wait_for_log_line(process, name, prefix, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(process_log(name), encoding="utf-8", errors="replace") as handle:
            if any(line.startswith(prefix) for line in handle):
                return
        if process.poll() is not None:
            raise LabUpError("%s exited (code %s); see %s" % (name, process.returncode, process_log(name)))
        time.sleep(0.05)
    raise LabUpError("%s did not get ready within %.0f s; see %s" % (name, timeout, process_log(name)))


def start_endpoint(state):
    process = start_process(state, "endpoint", [VENV_PYTHON, "-m", "tools.endpoint", "--host", topo.HOST_LINK_HOST, "--port", str(topo.ENDPOINT_PORT)])
    wait_for_log_line(process, "endpoint", "http")


def seed_dx_virtual_interface():
    """The DX link's virtual interface in the endpoint's Direct Connect, for the drill's BGP failover test."""
    peer = {"bgpPeerId": topo.DX_BGP_PEER_ID, "asn": topo.ONPREM_ASN, "addressFamily": "ipv4",
            "amazonAddress": "%s/%d" % (topo.DX_VGW_ADDRESS, topo.LINK_PREFIX), "customerAddress": "%s/%d" % (topo.DX_ONPREM_ADDRESS, topo.LINK_PREFIX)}
    interface = {"virtualInterfaceId": topo.DX_VIRTUAL_INTERFACE_ID, "virtualInterfaceName": "lzlab-dx", "asn": topo.ONPREM_ASN,
                 "amazonSideAsn": topo.VGW_ASN, "amazonAddress": peer["amazonAddress"], "customerAddress": peer["customerAddress"],
                 "bgpPeers": [peer]}
    body = json.dumps({"region": topo.REGION, "virtual_interfaces": [interface]}).encode()
    request = urllib.request.Request(topo.ENDPOINT_URL + "/_fidelity/directconnect/virtual-interfaces", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise LabUpError("seeding the DX virtual interface answered HTTP %d" % response.status)


def start_agents(state, router_pid):
    router_ns = topo.namespace("vpc-router")
    start_process(state, "vgw-agent", [VENV_PYTHON, "-m", "lab.vgw_agent", "--endpoint", topo.ENDPOINT_URL,
                                       "--router-pid", str(router_pid)], netns=router_ns)
    agent = start_process(state, "router-agent", [VENV_PYTHON, "-m", "lab.router_agent", "--endpoint", topo.ENDPOINT_URL],
                          netns=router_ns)
    wait_for_log_line(agent, "router-agent", "{")


def stop_process(name, record):
    """SIGTERM the recorded process (only if it is still the one we started), SIGKILL if it lingers."""
    pid, start = record["pid"], record["start"]
    if nspawn.signal_if_same(pid, start, signal.SIGTERM) and not nspawn.wait_for_exit(pid, start, PROCESS_STOP_SECONDS):
        nspawn.signal_if_same(pid, start, signal.SIGKILL)
        if not nspawn.wait_for_exit(pid, start, PROCESS_STOP_SECONDS):
            log("warning: %s (PID %d) did not exit" % (name, pid))


# --------------------------------------------------------------------------- secrets


def ensure_secret(path):
    """A lab secret (the IPsec PSK, the BGP MD5 key), made once and kept 0600 in .cache/lab (never printed)."""
    os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            # 43 URL-safe characters: the MD5 key goes into a BIRD string as it is (Direct Connect allows 6 to 80).
            handle.write(secrets.token_urlsafe(32) + "\n")
    os.chmod(path, 0o600)
    return path


def read_secret(path):
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def store_psk_secret():
    """Put the pre-shared key where an AWS user keeps it: a secret in (the endpoint's) Secrets Manager."""
    import boto3  # pylint: disable=import-outside-toplevel  # only `up` needs it

    psk = read_secret(PSK_FILE)
    client = boto3.client("secretsmanager", endpoint_url=topo.ENDPOINT_URL, region_name=topo.REGION,
                          aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"], aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])
    client.create_secret(Name=PSK_SECRET_NAME, SecretString=psk)


# --------------------------------------------------------------------------- up / down / status


def check_can_start():
    if os.geteuid() != 0:
        raise LabUpError("the lab needs root (namespaces, veths, systemd-nspawn)")
    state = load_state()
    if state is not None:
        raise LabUpError("a lab is recorded in %s: run `lab.py down` first" % STATE_FILE)
    leftovers = [name for name in os.listdir(NETNS_DIR) if name.startswith(topo.NAMESPACE_PREFIX)] if os.path.isdir(NETNS_DIR) else []
    if leftovers:
        raise LabUpError("namespaces %s exist without a lab record: run `lab.py down` first" % ", ".join(leftovers))


def up():
    """Build the whole lab; on any failure, remove what was made and raise."""
    check_can_start()
    started = time.monotonic()
    rootfs = nspawn.ensure_image()
    state = new_state()
    save_state(state)
    try:
        build_network(state)
        pids = boot_hosts(state, rootfs)
        log("network and %d hosts up in %.1f s" % (len(pids), time.monotonic() - started))
        ensure_secret(PSK_FILE)
        ensure_secret(BGP_MD5_KEY_FILE)
        # Only the VGW side: onprem-dx's BIRD is the dx_router role's (site.yml, or converge_dx_router()).
        start_vgw_bird(pids["vpc-router"])
        start_test_service(pids["onprem-host"])
        start_endpoint(state)
        seed_dx_virtual_interface()
        start_agents(state, pids["vpc-router"])
        store_psk_secret()
    except BaseException:
        log("up failed: removing what was made")
        down()
        raise
    up_seconds = round(time.monotonic() - started, 2)
    state["up_seconds"] = up_seconds
    save_state(state)
    log("lab up in %.1f s; EC2 endpoint %s" % (up_seconds, topo.ENDPOINT_URL))
    return state


def converge_dx_router():
    """Apply the dx_router role to onprem-dx (playbooks/dx_router.yml through the lab inventory).

    ``up`` leaves onprem-dx without BGP, as a customer's router is before site.yml; this is
    for what needs the DX session without a whole ``site`` (tests of the topology).
    """
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".cache", "collections"),
               AWS_URL=topo.ENDPOINT_URL, AWS_EC2_METADATA_DISABLED="true", **AWS_ENVIRONMENT)
    argv = [os.path.join(os.path.dirname(VENV_PYTHON), "ansible-playbook"), "-i", os.path.join(REPO_ROOT, "inventories", "lab"),
            os.path.join(REPO_ROOT, "playbooks", "dx_router.yml")]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env, check=False)
    if completed.returncode != 0:
        raise LabUpError("the dx_router role failed on onprem-dx (exit %d):\n%s" % (completed.returncode, completed.stdout[-3000:]))
    log("onprem-dx: dx_router role applied")


def recorded_or_leftover_namespaces(state):
    names = set(state["namespaces"]) if state else set()
    if os.path.isdir(NETNS_DIR):
        names.update(name for name in os.listdir(NETNS_DIR) if name.startswith(topo.NAMESPACE_PREFIX))
    return sorted(names)


def down():
    """Remove the lab: processes (by recorded PID), hosts, namespaces, the host link, the record."""
    started = time.monotonic()
    state = load_state() or new_state()
    for name, record in state["processes"].items():
        stop_process(name, record)
    with ThreadPoolExecutor(max_workers=len(topo.HOSTS)) as pool:
        list(pool.map(nspawn.down, topo.HOSTS))
    for name in recorded_or_leftover_namespaces(state):
        run(["ip", "netns", "delete", name], check=False)
    if os.path.exists("/sys/class/net/%s" % topo.HOST_LINK_DEVICE):
        run(["ip", "link", "delete", topo.HOST_LINK_DEVICE], check=False)
    for name in state["processes"]:
        if os.path.exists(process_log(name)):
            os.unlink(process_log(name))
    for path in (STATE_FILE, PROVISION_VARS_FILE):
        if os.path.exists(path):
            os.unlink(path)
    if os.path.isdir(STATE_DIR) and not os.listdir(STATE_DIR):
        os.rmdir(STATE_DIR)
    log("lab down in %.1f s" % (time.monotonic() - started))


def host_pids():
    """``{host: init PID}`` of the running lab hosts (empty when the lab is down)."""
    pids = {}
    for host in topo.HOSTS:
        record = nspawn.load(host)
        if record is not None and record.init_alive:
            pids[host] = record.init_pid
    return pids


def status():
    state = load_state()
    if state is None:
        print("lab: down")
        return 1
    pids = host_pids()
    print("lab: up (built in %s s); EC2 endpoint %s" % (state.get("up_seconds"), topo.ENDPOINT_URL))
    for host in topo.HOSTS:
        print("  host %-14s %s" % (host, "init PID %d" % pids[host] if host in pids else "NOT RUNNING"))
    for name, record in state["processes"].items():
        alive = nspawn.process_start_time(record["pid"]) == record["start"]
        print("  proc %-14s PID %-7d %s  log %s" % (name, record["pid"], "running" if alive else "EXITED", record["log"]))
    if "vpc-router" in pids:
        bgp = nspawn.run_inside(pids["vpc-router"], ["birdc", "show", "protocols", "dx"], check=False).stdout.strip().splitlines()
        print("  bgp  %s" % (bgp[-1] if bgp else "unknown"))
        rules = in_namespace("vpc-router", ["ip", "rule", "show"], check=False).stdout
        print("  vpc-router rules:\n    " + "\n    ".join(rules.strip().splitlines()))
    healthy = len(pids) == len(topo.HOSTS) and all(nspawn.process_start_time(r["pid"]) == r["start"] for r in state["processes"].values())
    return 0 if healthy else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build, inspect and remove the failover lab.")
    parser.add_argument("command", choices=("up", "down", "status", "dx-router"))
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up()
            return 0
        if args.command == "down":
            down()
            return 0
        if args.command == "dx-router":
            converge_dx_router()
            return 0
        return status()
    except (LabUpError, nspawn.LabError) as error:
        print("lab.py: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
