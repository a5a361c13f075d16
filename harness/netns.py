# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network-namespace labs: real packets between namespaces that a test creates and removes.

Every lab object records what it creates (namespaces, per-namespace /etc overrides,
nftables tables, processes) and ``cleanup()`` removes all of it, also when the test
fails. Veth pairs are created directly inside their namespaces, so no interface
appears in the host namespace (except the one end of a ``host_link``, when a test asks
for it) and deleting a namespace deletes its end of the pair.

Traffic rules for labs: addresses come from 198.18.0.0/15 and 2001:db8::/32 only, and
namespaces get no default route, so nothing a test sends can leave the lab. Name lookups
made through ``ip netns exec`` stay inside too: each namespace gets its own
``/etc/netns/<name>/resolv.conf`` pointing at its own loopback, plus a hosts file.

Fixtures (registered through ``pytest_plugins`` in tests/conftest.py):

* ``netns_lab``: an empty ``NetnsLab``.
* ``netns_pair``: a ``NetnsPair``, a prober namespace and a target namespace joined by a
  veth pair, with routed target networks on the target's loopback.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from harness.paths import COLLECTIONS_ROOT
from harness.paths import REPO_ROOT
from harness.processes import stop_process

PYTHON = sys.executable
ETC_NETNS = "/etc/netns"
NFT_TABLE = "lzt_filter"
LAB_NETWORKS = (ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32"))
REQUIRED_TOOLS = ("ip", "nft", "sysctl", "setpriv")

_sequence = itertools.count(1)


def unique_namespace_name(role="ns"):
    """A name no other test run uses: ``lzt-<pid>-<n>-<role>`` (short enough for iproute2)."""
    return "lzt-%d-%d-%s" % (os.getpid(), next(_sequence), role[:6])


def netns_unavailable_reason():
    """Why namespace labs cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces, veth pairs and nftables rules"
    missing = missing_tools(REQUIRED_TOOLS)
    return "needs these tools on PATH: %s" % ", ".join(missing) if missing else None


def missing_tools(tools):
    """Those of ``tools`` that are not on PATH."""
    return [tool for tool in tools if shutil.which(tool) is None]


def skip_if(reason):
    """Skip the calling test or fixture when ``reason`` (from a ``*_unavailable_reason``) says it cannot run here."""
    if reason:
        pytest.skip(reason)


def require_netns():
    skip_if(netns_unavailable_reason())


def check_lab_address(address):
    """Refuse any address outside the lab ranges, so a typo cannot send traffic elsewhere."""
    parsed = ipaddress.ip_interface(address).ip
    if parsed.is_loopback or any(parsed in network for network in LAB_NETWORKS if network.version == parsed.version):
        return str(parsed)
    raise ValueError("%s is outside the lab ranges 198.18.0.0/15 and 2001:db8::/32" % address)


def run(argv, check=True, timeout=60, input_text=None, env=None):
    """Run a command, capturing text output; a failure shows the command and its stderr."""
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text, env=env, check=False)
    if check and completed.returncode != 0:
        raise AssertionError(
            "command failed (exit %d): %s\nstdout: %s\nstderr: %s" % (completed.returncode, " ".join(argv), completed.stdout, completed.stderr)
        )
    return completed


def python_env(extra=None):
    """Environment for a child Python that imports the collection the way Ansible does."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [COLLECTIONS_ROOT, REPO_ROOT, env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def as_user(argv, user):
    """Prefix ``argv`` so it runs as ``user`` (uid, gid) with no supplementary groups and no capabilities.

    The bounding set is emptied and root's automatic capabilities are switched off too, so
    ``user=(0, gid)`` is an unprivileged process that can still read a checkout only root
    may traverse (for example one under a private /tmp).
    """
    uid, gid = user
    return [
        "setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--securebits=+noroot,+noroot_locked", "--",
    ] + list(argv)


class NetnsLab:
    """Creates namespaces and the plumbing between them; ``cleanup()`` undoes all of it."""

    def __init__(self):
        self.namespaces = []
        self._processes = []
        self._nft_namespaces = set()
        self._host_links = []

    # -- namespaces

    def add_namespace(self, role="ns", hosts=None):
        """Create a namespace with ``lo`` up, its own resolv.conf and a hosts file; return its name.

        ``hosts`` maps names to lab addresses, resolvable by programs started with
        ``run_in``/``spawn_in`` (``ip netns exec`` bind-mounts /etc/netns/<name>/*).
        """
        name = unique_namespace_name(role)
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self._write_etc(name, hosts or {})
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def set_hosts(self, ns, hosts):
        """Replace the hosts file that programs started in ``ns`` see (name -> lab address)."""
        self._write_etc(ns, hosts)

    @staticmethod
    def _write_etc(name, hosts):
        directory = os.path.join(ETC_NETNS, name)
        os.makedirs(directory, exist_ok=True)
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        lines.extend("%s %s" % (check_lab_address(address), host) for host, address in hosts.items())
        with open(os.path.join(directory, "hosts"), "w", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")
        # DNS questions go to the namespace's own loopback, where nothing listens: an
        # unknown name fails at once and no query leaves the lab.
        with open(os.path.join(directory, "resolv.conf"), "w", encoding="ascii") as handle:
            handle.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")

    def veth(self, ns_a, ns_b, dev_a="veth0", dev_b="veth0"):
        """Join two namespaces with a veth pair (both ends up); return ``(dev_a, dev_b)``."""
        run(["ip", "link", "add", "name", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b])
        run(["ip", "-n", ns_a, "link", "set", dev_a, "up"])
        run(["ip", "-n", ns_b, "link", "set", dev_b, "up"])
        return dev_a, dev_b

    def host_link(self, ns, host_cidr, ns_cidr, ns_dev="hostlink0"):
        """Join the host namespace to ``ns`` with one small veth link; return the host's device name.

        The only lab interface that appears in the host namespace: it carries nothing but
        its own connected network (``host_cidr``/``ns_cidr``, e.g. a /30), so the host can
        reach a service in ``ns`` while nothing is routed onwards. Deleted at cleanup.
        """
        host_dev = "lzh%d-%d" % (os.getpid() % 100000, next(_sequence))
        run(["ip", "link", "add", "name", host_dev, "type", "veth", "peer", "name", ns_dev, "netns", ns])
        self._host_links.append(host_dev)
        check_lab_address(host_cidr)
        run(["ip", "address", "add", host_cidr, "dev", host_dev])
        run(["ip", "link", "set", host_dev, "up"])
        self.add_address(ns, ns_dev, ns_cidr)
        run(["ip", "-n", ns, "link", "set", ns_dev, "up"])
        return host_dev

    def add_address(self, ns, dev, cidr):
        """Assign a lab address (``198.18.0.1/24`` or ``2001:db8::1/64``); IPv6 skips DAD so it is usable at once."""
        check_lab_address(cidr)
        extra = ["nodad"] if ipaddress.ip_interface(cidr).version == 6 else []
        run(["ip", "-n", ns, "address", "add", cidr, "dev", dev] + extra)

    def add_loopback_address(self, ns, address):
        """Put a lab address on ``lo`` as a /32 or /128: an extra target host inside ``ns``."""
        host = check_lab_address(address)
        prefix = 32 if ipaddress.ip_address(host).version == 4 else 128
        self.add_address(ns, "lo", "%s/%d" % (host, prefix))
        return host

    def add_route(self, ns, destination, via=None, dev=None):
        check_lab_address(destination)
        argv = ["ip", "-n", ns, "route", "add", destination]
        if via:
            argv += ["via", check_lab_address(via)]
        if dev:
            argv += ["dev", dev]
        run(argv)

    def delete_route(self, ns, destination):
        run(["ip", "-n", ns, "route", "del", destination])

    # -- processes

    def run_in(self, ns, argv, check=True, timeout=60, input_text=None, env=None, user=None):
        """Run ``argv`` inside ``ns`` (optionally as ``user=(uid, gid)``) and wait for it."""
        argv = as_user(argv, user) if user else list(argv)
        return run(["ip", "netns", "exec", ns] + argv, check=check, timeout=timeout, input_text=input_text, env=env)

    def spawn_in(self, ns, argv, env=None, user=None, **popen_kwargs):
        """Start ``argv`` inside ``ns`` in the background; it is ended by PID at cleanup."""
        argv = as_user(argv, user) if user else list(argv)
        process = subprocess.Popen(["ip", "netns", "exec", ns] + argv, env=env, **popen_kwargs)  # pylint: disable=consider-using-with
        self._processes.append(process)
        return process

    def run_python_in(self, ns, code, args=(), check=True, timeout=60, user=None, env=None):
        """Run Python ``code`` (with the collection importable) inside ``ns``."""
        return self.run_in(ns, [PYTHON, "-c", code] + [str(arg) for arg in args], check=check, timeout=timeout, env=python_env(env), user=user)

    # -- kernel settings

    def sysctl(self, ns, key, value):
        self.run_in(ns, ["sysctl", "-q", "-w", "%s=%s" % (key, value)])

    def set_ping_group_range(self, ns, low, high):
        """Allow unprivileged ICMP (ping) sockets for group ids ``low..high`` in ``ns``."""
        self.sysctl(ns, "net.ipv4.ping_group_range", "%d %d" % (low, high))

    # -- nftables: loss injection on the receiving side

    def _nft(self, ns, script):
        if ns not in self._nft_namespaces:
            table = "add table inet %s\nadd chain inet %s input { type filter hook input priority 0; policy accept; }\n" % (NFT_TABLE, NFT_TABLE)
            self.run_in(ns, ["nft", "-f", "-"], input_text=table)
            self._nft_namespaces.add(ns)
        self.run_in(ns, ["nft", "-f", "-"], input_text=script)

    @staticmethod
    def _echo_match(address, from_address=None):
        host = check_lab_address(address)
        version = ipaddress.ip_address(host).version
        match = "ip" if version == 4 else "ip6"
        sender = " %s saddr %s" % (match, check_lab_address(from_address)) if from_address else ""
        icmp = "icmp type echo-request" if version == 4 else "icmpv6 type echo-request"
        return "%s daddr %s%s %s" % (match, host, sender, icmp)

    def drop_icmp(self, ns, address, percent=100, from_address=None):
        """Silently drop ``percent``% (random, per packet) of echo requests to ``address`` arriving in ``ns``.

        With ``from_address`` only echo requests from that sender are dropped.
        """
        if not 0 < percent <= 100:
            raise ValueError("percent must be in 1..100")
        chance = "" if percent >= 100 else "numgen random mod 100 < %d " % percent
        self._nft(ns, "add rule inet %s input %s %sdrop\n" % (NFT_TABLE, self._echo_match(address, from_address), chance))

    def replace_icmp_drops(self, ns, addresses):
        """In one nftables transaction, make ``addresses`` the only ones whose echo requests are dropped in ``ns``.

        One transaction, so a test that cuts several targets at once cuts them at the same instant.
        """
        script = "flush chain inet %s input\n" % NFT_TABLE
        script += "".join("add rule inet %s input %s drop\n" % (NFT_TABLE, self._echo_match(address)) for address in addresses)
        self._nft(ns, script)

    def reject_icmp(self, ns, address):
        """Answer echo requests to ``address`` with ICMP destination unreachable (host/address unreachable)."""
        version = ipaddress.ip_address(check_lab_address(address)).version
        reply = "icmp type host-unreachable" if version == 4 else "icmpv6 type addr-unreachable"
        self._nft(ns, "add rule inet %s input %s reject with %s\n" % (NFT_TABLE, self._echo_match(address), reply))

    def clear_icmp_rules(self, ns):
        """Remove every drop/reject rule added in ``ns``: traffic flows normally again."""
        if ns in self._nft_namespaces:
            self.run_in(ns, ["nft", "flush", "chain", "inet", NFT_TABLE, "input"])

    # -- teardown

    def _stop_processes(self):
        for process in self._processes:
            stop_process(process)
        self._processes = []

    def cleanup(self):
        """Remove everything this lab created, continuing past individual failures."""
        self._stop_processes()
        for host_dev in self._host_links:
            run(["ip", "link", "delete", host_dev], check=False)
        self._host_links = []
        for ns in reversed(self.namespaces):
            if ns in self._nft_namespaces:
                run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", NFT_TABLE], check=False)
            run(["ip", "netns", "delete", ns], check=False)
            shutil.rmtree(os.path.join(ETC_NETNS, ns), ignore_errors=True)
        self._nft_namespaces.clear()
        self.namespaces = []
        try:
            os.rmdir(ETC_NETNS)  # only if no other run still has a namespace there
        except OSError:
            pass


@dataclass
class NetnsPair:
    """A prober namespace and a target namespace joined by a veth pair.

    The link is 198.18.0.0/24 and 2001:db8::/64 (prober .1 / ::1, target .2 / ::2).
    ``remote_v4``/``remote_v6`` are routed from the prober to the target, where
    ``add_target`` puts individual host addresses on the loopback. Nothing else is
    routed: an address outside these networks is unreachable from the prober.
    """

    lab: NetnsLab
    prober: str
    target: str
    prober_dev: str = "veth0"
    target_dev: str = "veth0"
    prober_v4: str = "198.18.0.1"
    target_v4: str = "198.18.0.2"
    prober_v6: str = "2001:db8::1"
    target_v6: str = "2001:db8::2"
    remote_v4: str = "198.18.1.0/24"
    remote_v6: str = "2001:db8:1::/64"
    targets: list = field(default_factory=list)

    def add_target(self, address):
        """Make ``address`` (inside remote_v4/remote_v6) answer pings in the target namespace."""
        host = self.lab.add_loopback_address(self.target, address)
        self.targets.append(host)
        return host

    def run_python(self, code, args=(), **kwargs):
        """Run Python ``code`` inside the prober namespace."""
        return self.lab.run_python_in(self.prober, code, args, **kwargs)


def build_pair(lab, hosts=None):
    """Create the standard prober/target topology described in NetnsPair."""
    prober = lab.add_namespace("prober", hosts=hosts)
    target = lab.add_namespace("target")
    pair = NetnsPair(lab=lab, prober=prober, target=target)
    lab.veth(prober, target, pair.prober_dev, pair.target_dev)
    lab.add_address(prober, pair.prober_dev, pair.prober_v4 + "/24")
    lab.add_address(target, pair.target_dev, pair.target_v4 + "/24")
    lab.add_address(prober, pair.prober_dev, pair.prober_v6 + "/64")
    lab.add_address(target, pair.target_dev, pair.target_v6 + "/64")
    lab.add_route(prober, pair.remote_v4, via=pair.target_v4)
    lab.add_route(prober, pair.remote_v6, via=pair.target_v6)
    return pair


@pytest.fixture
def netns_lab():
    """An empty NetnsLab, torn down after the test whatever its outcome."""
    require_netns()
    lab = NetnsLab()
    try:
        yield lab
    finally:
        lab.cleanup()


@pytest.fixture
def netns_pair(netns_lab):  # pylint: disable=redefined-outer-name
    """A NetnsPair (prober + target namespaces); its lab is cleaned up by ``netns_lab``."""
    return build_pair(netns_lab)
