# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor role on a real Debian 12 host: systemd as PID 1 in a systemd-nspawn container.

Topology (harness/hosts.py)::

    host namespace (this test)                    lab host (Debian 12, systemd)
    tools/endpoint on the link         --/30--    lz-failover-monitor, probe target on lo
    ansible-playbook (nsenter connection)

The role runs in wheels mode: the controller builds the daemon from this checkout and
gathers its dependencies (cached in .cache/monitor-wheels, so only the first run ever
touches the package index); the host installs them offline. The daemon talks to the
EC2 fidelity endpoint across the link and probes an address on its own loopback.

The daemon is built from a copy of its sources taken when the module starts, so an edit
to the checkout during the run cannot pass for a role that is not idempotent.

The module converges one host once (``converged``) and the tests then look at it in
file order: state, hardening, metrics, a second run, a configuration-only change, and
last the rejected configurations. Check mode gets a fresh host of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.aws import build_lz_world
from harness.aws import ec2_client
from harness.hosts import assert_succeeded
from harness.hosts import booted_host
from harness.hosts import run_playbook
from harness.hosts import write_inventory
from harness.netns import PYTHON
from harness.paths import REPO_ROOT
from harness.processes import stop_process
from harness.waiting import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.moto]

SERVICE = "lz-failover-monitor"
CONFIG_FILE = "/etc/lz-failover-monitor/config.yml"
PROBE_TARGET = "198.18.253.10"
METRICS_URL = "http://127.0.0.1:9190/metrics"
WHEEL_CACHE = os.path.join(REPO_ROOT, ".cache", "monitor-wheels")
DAEMON_SOURCES = ("pyproject.toml", "monitor", os.path.join("plugins", "module_utils"))
CAP_NET_RAW = 1 << 13
# Dummy credentials for the fidelity endpoint; IMDS off so botocore never looks for
# an instance role at an address outside the lab.
DAEMON_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
HARDENING = {
    "User": SERVICE,
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "StateDirectory": "lz-failover-monitor",
    "StateDirectoryMode": "0700",
    "Restart": "always",
    "RestartUSec": "1s",
    "AmbientCapabilities": "cap_net_raw",
    "CapabilityBoundingSet": "cap_net_raw",
}
PLAYBOOK = """---
- name: Install the failover monitor
  hosts: lab
  gather_facts: false
  roles:
    - role: localzones.failover.monitor
"""


# --------------------------------------------------------------------------- EC2 endpoint


def start_fidelity_server(address):
    """The local EC2 endpoint (``python -m tools.endpoint``) as a process on ``address``; returns (process, URL)."""
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [PYTHON, "-m", "tools.endpoint", "--host", address, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO_ROOT,
    )
    readable = select.select([process.stdout], [], [], 60)[0]
    url = process.stdout.readline().strip() if readable else ""
    if not url.startswith("http://"):
        stop_fidelity_server(process)
        raise AssertionError("the EC2 fidelity server did not start on %s" % address)
    return process, url


def stop_fidelity_server(process):
    stop_process(process, timeout=10)
    process.stdout.close()


# --------------------------------------------------------------------------- the role


def snapshot_daemon_sources(directory):
    """Copy what the daemon's wheel is built from; return the copy's root (monitor_source_dir)."""
    for relative in DAEMON_SOURCES:
        source, target = os.path.join(REPO_ROOT, relative), os.path.join(directory, relative)
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    return directory


@dataclass
class RoleTarget:
    """One lab host with an inventory, a playbook and the role variables for it."""

    host: object
    inventory: str
    playbook: str
    role_vars: dict

    def apply(self, config_changes=None, check=False):
        """Run the role; ``config_changes`` maps dotted keys of monitor_config to new values."""
        role_vars = json.loads(json.dumps(self.role_vars))
        for dotted, value in (config_changes or {}).items():
            section = role_vars["monitor_config"]
            *parents, key = dotted.split(".")
            for parent in parents:
                section = section.setdefault(parent, {})
            section[key] = value
        return run_playbook(self.playbook, self.inventory, extra_vars=role_vars, check=check)


def role_variables(endpoint_url, world):
    return {
        "monitor_wheel_cache_dir": WHEEL_CACHE,
        "monitor_environment": DAEMON_ENVIRONMENT,
        # What the failover manages, said once as the inventory says it for every playbook ...
        "lz_failover_region": world["region"],
        "lz_failover_aws": {"endpoint_url": endpoint_url},
        "lz_failover_route_table_ids": world["route_table_ids"],
        "lz_failover_destination_cidrs": world["destination_cidrs"],
        "lz_failover_vpn_eni_id": world["vpn_eni_id"],
        "lz_failover_probe_route_table_id": world["probe_route_table_id"],
        "lz_failover_probe_targets": [PROBE_TARGET],
        # ... and only the daemon settings that differ from its defaults.
        "monitor_config": {"probe": {"interval": 0.2, "timeout": 0.2}},
    }


def prepare_target(host, directory, endpoint_url, world):
    os.makedirs(directory, exist_ok=True)
    playbook = os.path.join(directory, "monitor.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(PLAYBOOK)
    inventory = write_inventory(os.path.join(directory, "inventory.yml"), [host])
    return RoleTarget(host=host, inventory=inventory, playbook=playbook, role_vars=role_variables(endpoint_url, world))


# --------------------------------------------------------------------------- what the host shows


def service_properties(host, *names):
    argv = ["systemctl", "show", SERVICE] + ["--property=%s" % name for name in names]
    lines = host.run(argv).stdout.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def main_pid(host):
    return int(service_properties(host, "MainPID")["MainPID"])


def proc_status(host, pid):
    text = host.read_file("/proc/%d/status" % pid).decode()
    return dict((key, value.strip()) for key, _sep, value in (line.partition(":") for line in text.splitlines()))


def file_digest(host, path):
    content = host.read_file(path)
    return None if content is None else hashlib.sha256(content).hexdigest()


def metric_samples(host):
    """``{(name, labels tuple): value}`` from the daemon's metrics endpoint, scraped inside the host."""
    code = "import urllib.request; print(urllib.request.urlopen(%r, timeout=5).read().decode())" % METRICS_URL
    text = host.python(code)
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def learned_dx_path(host):
    """True once the daemon has read the tables (DX), probed and found the routes converged."""
    try:
        samples = metric_samples(host)
    except AssertionError:
        return False  # not listening yet
    return (
        samples.get(("lz_failover_active_path", (("path", "dx"),))) == 1
        and samples.get(("lz_failover_routes_converged", ())) == 1
        and samples.get(("lz_failover_probe_rounds_total", ()), 0) > 0
        and samples.get(("lz_failover_probe_rounds_failed_total", ()), 1) == 0
    )


def snapshot(host):
    """Every file under the directories the role writes to, with size and mtime, plus the accounts."""
    listing = host.run(["find", "/etc", "/opt", "/usr/local", "/var/lib", "-xdev", "-printf", "%p %s %T@\\n"]).stdout
    return sorted(listing.splitlines()), host.read_file("/etc/passwd"), host.read_file("/etc/group")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def role_lab(tmp_path_factory):
    """A booted host, the EC2 endpoint on its link and the reference world; torn down at the end."""
    with booted_host("monitor") as host:
        host.add_loopback_address(PROBE_TARGET)
        process, url = start_fidelity_server(host.host_address)
        try:
            lz_world = build_lz_world(ec2_client(url), url)
            world = {
                "region": lz_world.region,
                "route_table_ids": [lz_world.prod_rtb_id],
                "destination_cidrs": list(lz_world.onprem_cidrs),
                "vpn_eni_id": lz_world.vpn_eni_id,
                "probe_route_table_id": lz_world.probe_rtb_id,
            }
            print("lab host %s booted in %.2f s" % (host.name, host.boot_seconds))
            target = prepare_target(host, str(tmp_path_factory.mktemp("monitor-role")), url, world)
            target.role_vars["monitor_source_dir"] = snapshot_daemon_sources(str(tmp_path_factory.mktemp("daemon-source")))
            yield target
        finally:
            stop_fidelity_server(process)


@pytest.fixture(scope="module")
def converged(role_lab):  # pylint: disable=redefined-outer-name
    """The role applied once; the daemon has started and learned the path."""
    run = role_lab.apply()
    assert_succeeded(run, role_lab.host)
    print("first converge: %.1f s, %s" % (run.seconds, run.stats(role_lab.host.name)))
    wait_for(lambda: learned_dx_path(role_lab.host), 30, "the daemon to learn the DX path", interval=0.2)
    return role_lab


# --------------------------------------------------------------------------- tests


def test_check_mode_on_a_fresh_host_changes_nothing(tmp_path):
    placeholder_world = {
        "region": "us-east-1",
        "route_table_ids": ["rtb-0123456789abcdef0"],
        "destination_cidrs": ["198.19.0.0/24"],
        "vpn_eni_id": "eni-0123456789abcdef0",
        "probe_route_table_id": None,
    }
    with booted_host("check") as host:
        target = prepare_target(host, str(tmp_path), "http://%s:9" % host.host_address, placeholder_world)
        before = snapshot(host)
        run = target.apply(check=True)
        assert_succeeded(run, host)
        assert snapshot(host) == before, "check mode changed files or accounts on the host"
        assert host.run(["test", "-e", "/etc/systemd/system/%s.service" % SERVICE], check=False).returncode != 0
        print("check mode on a fresh host: %.1f s, %s" % (run.seconds, run.stats(host.name)))


def test_service_runs_as_its_own_user_with_only_cap_net_raw(converged):  # pylint: disable=redefined-outer-name
    host = converged.host
    assert service_properties(host, "ActiveState", "SubState") == {"ActiveState": "active", "SubState": "running"}
    status = proc_status(host, main_pid(host))
    uid = host.run(["id", "-u", SERVICE]).stdout.strip()
    assert status["Uid"].split() == [uid] * 4 and uid != "0"
    for capability_set in ("CapEff", "CapPrm", "CapAmb", "CapBnd"):
        assert int(status[capability_set], 16) == CAP_NET_RAW, "%s is %s" % (capability_set, status[capability_set])


def test_unit_carries_the_hardening_directives(converged):  # pylint: disable=redefined-outer-name
    properties = service_properties(converged.host, *HARDENING, "RestrictAddressFamilies")
    assert {name: properties.get(name) for name in HARDENING} == HARDENING
    assert sorted(properties["RestrictAddressFamilies"].split()) == ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"]


def test_config_file_is_readable_by_the_monitor_group_only(converged):  # pylint: disable=redefined-outer-name
    owner_group_mode = converged.host.run(["stat", "-c", "%U %G %a", CONFIG_FILE]).stdout.split()
    assert owner_group_mode == ["root", SERVICE, "640"]


def test_metrics_answer_and_the_daemon_learned_the_path(converged):  # pylint: disable=redefined-outer-name
    samples = metric_samples(converged.host)
    assert samples[("lz_failover_active_path", (("path", "dx"),))] == 1
    assert samples[("lz_failover_desired_path", (("path", "dx"),))] == 1
    assert samples[("lz_failover_echoes_lost_total", (("target", PROBE_TARGET),))] == 0


def test_second_run_changes_nothing(converged):  # pylint: disable=redefined-outer-name
    run = converged.apply()
    assert_succeeded(run, converged.host)
    assert run.stats(converged.host.name)["changed"] == 0, run.summary(converged.host.name)
    print("second converge: %.1f s, %s" % (run.seconds, run.stats(converged.host.name)))


def test_config_only_change_reloads_the_running_daemon(converged):  # pylint: disable=redefined-outer-name
    host = converged.host
    pid = main_pid(host)
    run = converged.apply({"log_level": "debug"})
    assert_succeeded(run, host)
    assert "Reload lz-failover-monitor" in run.changed_tasks(host.name), run.summary(host.name)
    assert main_pid(host) == pid, "a configuration-only change restarted the daemon"
    reloads_applied = ("lz_failover_config_reloads_total", (("outcome", "applied"),))
    wait_for(lambda: metric_samples(host).get(reloads_applied, 0) >= 1, 10, "the reload to be applied", interval=0.2)
    assert b'log_level: "debug"' in host.read_file(CONFIG_FILE)


@pytest.mark.parametrize(
    "config_changes, expected_message",
    [
        pytest.param({"probe.targets": []}, "No probe targets: set lz_failover_probe_targets", id="no-probe-targets"),
        pytest.param({"probe.targets": ["198.51.100.%d" % host for host in range(1, 18)]}, "probe.targets: must list 1 to 16 item(s), got 17",
                     id="too-many-probe-targets"),
        pytest.param({"policy.failback_hold_s": -1}, "policy.failback_hold_s", id="negative-failback-hold"),
        pytest.param({"probe.bogus": 1}, "monitor_config.probe.bogus", id="unknown-key"),
    ],
)
def test_rejected_config_fails_the_play_and_keeps_the_live_one(converged, config_changes, expected_message):  # pylint: disable=redefined-outer-name
    host = converged.host
    digest, pid = file_digest(host, CONFIG_FILE), main_pid(host)
    restarts = service_properties(host, "NRestarts")["NRestarts"]
    run = converged.apply(config_changes)
    assert run.returncode != 0, run.summary(host.name)
    assert expected_message in run.stdout, run.summary(host.name)
    assert file_digest(host, CONFIG_FILE) == digest, "the rejected configuration replaced the live one"
    assert main_pid(host) == pid and service_properties(host, "NRestarts")["NRestarts"] == restarts
    assert learned_dx_path(host), "the daemon stopped working after a rejected configuration"


def test_unprivileged_probing_runs_without_any_capability(converged):  # pylint: disable=redefined-outer-name
    host = converged.host
    run = converged.apply({"probe.privileged": False})
    assert_succeeded(run, host)
    gid = host.run(["getent", "group", SERVICE]).stdout.split(":")[2]
    assert host.read_file("/proc/sys/net/ipv4/ping_group_range").split() == [gid.encode(), gid.encode()]
    assert service_properties(host, "AmbientCapabilities", "CapabilityBoundingSet") == {"AmbientCapabilities": "", "CapabilityBoundingSet": ""}
    status = proc_status(host, main_pid(host))
    assert [int(status[name], 16) for name in ("CapEff", "CapPrm", "CapAmb", "CapBnd")] == [0, 0, 0, 0]
    wait_for(lambda: learned_dx_path(host), 30, "the restarted daemon to probe with ping sockets", interval=0.2)
