# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab hosts for tests: Debian 12 with systemd as PID 1, booted by lab/nspawn.py.

A lab host is the image from lab/image.sh booted with systemd-nspawn inside a network
namespace of a ``NetnsLab``. The host namespace gets exactly one small veth link into
that namespace (a /30 from 198.18.240.0/21, picked per process), so the test can run
services the host talks to (an EC2 endpoint) and reach services inside it; nothing
else is routed and the host has no default route.

Ansible reaches a lab host with the ``community.docker.nsenter`` connection
(``write_inventory``); ``run_playbook`` runs ansible-playbook from .venv with this
checkout's collections and returns the JSON callback's result.

Usable from fixtures of any scope:

* ``ensure_lab_image()``: build the image if missing or stale (cached on disk; the
  first call of a session checks, later calls return at once);
* ``booted_host(role)``: context manager yielding a running ``LabHost``, torn down
  (container, namespace, link) whatever happens.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field

from harness.netns import NetnsLab
from harness.netns import missing_tools
from harness.netns import netns_unavailable_reason
from harness.netns import skip_if
from harness.paths import COLLECTIONS_ROOT
from harness.paths import REPO_ROOT
from lab import nspawn

LINK_BLOCK = ipaddress.ip_network("198.18.240.0/21")
LAB_TOOLS = ("systemd-nspawn", "debootstrap", "nsenter")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
CONTAINER_PYTHON = "/usr/bin/python3"

_link_sequence = itertools.count()


def lab_unavailable_reason():
    """Why lab hosts cannot run here, or None when they can."""
    reason = netns_unavailable_reason()
    if reason:
        return reason
    missing = missing_tools(LAB_TOOLS)
    return "lab hosts need %s (scripts/setup.sh installs them)" % ", ".join(missing) if missing else None


def require_lab():
    skip_if(lab_unavailable_reason())


@functools.lru_cache(maxsize=None)
def ensure_lab_image():
    """The image tree, built by lab/image.sh when missing or stale; checked once per process."""
    started = time.monotonic()
    tree = nspawn.ensure_image()
    print("lab image %s ready (%.1f s)" % (os.path.basename(tree), time.monotonic() - started))
    return tree


# --------------------------------------------------------------------------- hosts


@dataclass
class LabHost:
    """A booted lab host and the link that joins it to the host namespace."""

    name: str
    netns: str
    init_pid: int
    address: str
    host_address: str
    boot_seconds: float
    lab: NetnsLab = field(repr=False)

    def add_loopback_address(self, address):
        """Put a lab address on the host's loopback (a probe target that always answers)."""
        return self.lab.add_loopback_address(self.netns, address)

    def run(self, argv, check=True, timeout=60, input_text=None):
        """Run ``argv`` inside the host as root."""
        return nspawn.run_inside(self.init_pid, argv, check=check, timeout=timeout, input_text=input_text)

    def python(self, code, check=True, timeout=60):
        """Run Python ``code`` with the host's own interpreter; return its stdout."""
        return self.run([CONTAINER_PYTHON, "-c", code], check=check, timeout=timeout).stdout

    def read_file(self, path):
        """Bytes of a file inside the host (None when it does not exist)."""
        completed = subprocess.run(nspawn.nsenter_argv(self.init_pid, ["cat", path]), capture_output=True, timeout=30, check=False)
        return completed.stdout if completed.returncode == 0 else None

    def inventory_vars(self):
        return {
            "ansible_connection": "community.docker.nsenter",
            "ansible_nsenter_pid": self.init_pid,
            "ansible_python_interpreter": CONTAINER_PYTHON,
        }


def next_link_network():
    """A /30 for the host link, different per process and per host within a process."""
    subnets = list(LINK_BLOCK.subnets(new_prefix=30))
    return subnets[(os.getpid() * 7 + next(_link_sequence)) % len(subnets)]


def host_name(role):
    return ("lzt-%d-%s" % (os.getpid(), role))[:63].rstrip("-")


@contextlib.contextmanager
def booted_host(role="host", rootfs=None, timeout=60.0):
    """Boot a lab host in a new namespace joined to the host namespace by one /30 link.

    Yields a ``LabHost``; the container, the link and the namespace are removed on exit.
    """
    require_lab()
    tree = rootfs or ensure_lab_image()
    lab = NetnsLab()
    name = host_name(role)
    try:
        netns = lab.add_namespace(role)
        network = next_link_network()
        host_address, address = (str(ip) for ip in network.hosts())
        lab.host_link(netns, "%s/30" % host_address, "%s/30" % address, ns_dev="eth0")
        booted = nspawn.up(name, netns, rootfs=tree, timeout=timeout)
        yield LabHost(name=name, netns=netns, init_pid=booted.init_pid, address=address, host_address=host_address, boot_seconds=booted.boot_seconds, lab=lab)
    finally:
        nspawn.down(name)
        lab.cleanup()


# --------------------------------------------------------------------------- Ansible


def write_inventory(path, hosts, group="lab", group_vars=None):
    """Write a YAML inventory (JSON is YAML) with ``hosts`` (LabHost objects) in ``group``."""
    inventory = {
        "all": {
            "children": {
                group: {
                    "hosts": {host.name: host.inventory_vars() for host in hosts},
                    "vars": dict(group_vars or {}),
                }
            }
        }
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle, indent=2)
    return path


@dataclass
class PlaybookRun:
    """Outcome of one ansible-playbook run (JSON callback)."""

    returncode: int
    result: dict
    stdout: str
    stderr: str
    seconds: float

    def stats(self, host):
        """The PLAY RECAP counters of ``host`` (ok, changed, failures, skipped, ...)."""
        return self.result.get("stats", {}).get(host, {})

    def changed_tasks(self, host):
        """Names of the tasks that reported a change on ``host``."""
        return [name for name, outcome in self._task_outcomes(host) if outcome.get("changed")]

    def failures(self, host):
        """``(task name, result)`` of every failed task on ``host``."""
        return [(name, outcome) for name, outcome in self._task_outcomes(host) if outcome.get("failed")]

    def _task_outcomes(self, host):
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                outcome = task.get("hosts", {}).get(host)
                if outcome is not None:
                    # "namespace.collection.role : Task name" -> "Task name"
                    yield task["task"]["name"].split(" : ", 1)[-1], outcome

    def summary(self, host):
        """Short text for assertion messages: counters, changed and failed tasks."""
        failed = ["%s: %s %s" % (name, outcome.get("msg", ""), outcome.get("stderr", "")) for name, outcome in self.failures(host)]
        return "rc=%d stats=%s\nchanged: %s\nfailed: %s\nstderr: %s" % (
            self.returncode, self.stats(host), self.changed_tasks(host), failed, self.stderr[-2000:]
        )


def assert_succeeded(run, *hosts):
    """The playbook run ended with rc 0 and no failed task on any of ``hosts`` (LabHost objects)."""
    assert run.returncode == 0, "\n".join(run.summary(host.name) for host in hosts)
    for host in hosts:
        stats = run.stats(host.name)
        assert stats and stats.get("failures", 0) == 0, run.summary(host.name)


def silent_cut_script(table, device, cut):
    """An nftables script that drops everything in and out of ``device`` (link up: a silent cut) in
    its own ``table``, or removes that table again; replacing a missing table is fine either way."""
    script = "table inet {0} {{}}\ndelete table inet {0}\n".format(table)
    if cut:
        script += ("table inet {0} {{\n"
                   "  chain input {{ type filter hook input priority -10; policy accept;\n    iifname \"{1}\" drop\n  }}\n"
                   "  chain output {{ type filter hook output priority -10; policy accept;\n    oifname \"{1}\" drop\n  }}\n}}\n"
                   ).format(table, device)
    return script


def ansible_environment():
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_ROOT,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        }
    )
    return env


def run_playbook(playbook, inventory, extra_vars=None, check=False, diff=False, timeout=600):
    """Run ``playbook`` against ``inventory``; extra vars go through a JSON file to keep their types."""
    argv = [ANSIBLE_PLAYBOOK, "-i", inventory, playbook]
    if extra_vars:
        vars_file = "%s.extra-vars.json" % inventory
        with open(vars_file, "w", encoding="utf-8") as handle:
            json.dump(extra_vars, handle)
        argv += ["-e", "@" + vars_file]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    started = time.monotonic()
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=ansible_environment(), check=False)
    seconds = time.monotonic() - started
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        result = {}
    return PlaybookRun(returncode=completed.returncode, result=result, stdout=completed.stdout, stderr=completed.stderr, seconds=seconds)
