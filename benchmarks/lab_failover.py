# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover on the full lab: lz-failover-monitor with its default settings beside the baseline rule.

Runs on the failover lab of lab/README.md (seven systemd-nspawn hosts, BGP over the DX
link, a strongSwan tunnel, keepalived VRRP on premises, the EC2 fidelity endpoint and
the VPC router agent that turns route tables into kernel routes). Two contenders take
turns on the lab's one production route table, never side by side:

* ``monitor``: the lz-failover-monitor service of the utility host, its configuration
  replaced for the run by the daemon's schema defaults plus the lab's connection settings;
* ``baseline``: benchmarks/baseline_monitor.py (3 echoes 1 s apart, fail over when all
  are lost, fail back after 10 good cycles), run in the utility host with the monitor's
  virtualenv while the service is stopped.

Every trial starts fresh: no fault, DX healthy, the route table on DX, the monitor's
state file (its flap-dampening history) removed, the contender restarted. Scenarios
(``--only`` takes their names):

* ``cut``: a silent blackhole of the DX link (nftables drops everything on it, the link
  stays up: only BFD and the probes notice), failover, 5 s on the VPN, restore, failback;
  the detection, route switch and failback times, the workload's two-way UDP flow outage
  (lz-drill-flow, analysed by ansible_collections.localzones.failover.plugins.module_utils.drill), the on-premises VRRP move
  and the failback's asymmetric window (one direction back on DX before the other);
* ``link_down``: the same with the DX link itself going down (both ends lose carrier);
* ``bgp_test``: the same with Direct Connect's BGP failover test (StartBgpFailoverTest on
  the lab's virtual interface: the BGP session goes down, the link stays up);
* ``loss5`` and ``loss20``: random loss on DX for a few minutes; transitions counted,
  CPU and RSS of the contender measured;
* ``flap``: DX down 1.5 s / up 1.5 s for a minute; transitions until back on DX.

It prints one table and writes every raw number to benchmarks/results/lab-<UTC>.json.
Exit status: 0 whatever was measured, 1 on a setup error (or a scenario that could not
be measured), 2 on bad usage, 130 when interrupted (the partial table is still printed).
The monitors of the other utility hosts (the lab runs two, one lease) are stopped for the
run. At the end the lab's monitor configuration and state file are put back, every monitor
runs again, no fault is left and every process the run started is stopped by PID.
See benchmarks/README.md.
"""
# pylint: disable=too-many-lines  # one self-contained benchmark: lab access, contenders, scenarios, table

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import boto3
import jinja2
import yaml

from lz_failover_monitor.config import POLICY_SCHEMA
from lz_failover_monitor.config import PROBE_SCHEMA
from lz_failover_monitor.config import validate_document
from ansible_collections.localzones.failover.plugins.module_utils import drill
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_route_tables
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import MAX_DURATION as MAX_WATCH_DURATION
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import RouteWatch
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import validate_watch_settings
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_DX
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import load_average
from harness.bench import log_time
from harness.bench import machine_info
from harness.bench import plural
from harness.bench import positive
from harness.bench import proc_usage
from harness.bench import raise_keyboard_interrupt
from harness.bench import results_path
from harness.bench import rounded
from harness.bench import stats
from harness.bench import write_results
from harness.monitor import Metrics
from harness.paths import REPO_ROOT
from harness.processes import stop_process
from harness.waiting import first_within
from lab import lab as lab_tool
from lab import nspawn
from lab import topology as topo

SCENARIOS = (
    ("cut", "silent DX blackhole -> failover -> 5 s on the VPN -> restore -> failback"),
    ("link_down", "DX link down -> failover -> 5 s on the VPN -> link up -> failback"),
    ("bgp_test", "Direct Connect BGP failover test -> failover -> 5 s on the VPN -> test stopped -> failback"),
    ("loss5", "5% random loss on DX"),
    ("loss10", "10% random loss on DX"),
    ("loss20", "20% random loss on DX"),
    ("flap", "DX flapping, down 1.5 s / up 1.5 s"),
)
SCENARIO_NAMES = tuple(name for name, _title in SCENARIOS)
CONTENDERS = ("monitor", "baseline")

LAB_VARS_FILE = os.path.join(REPO_ROOT, "inventories", "lab", "group_vars", "all", "lab.yml")
BASELINE_SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "baseline_monitor.py")
FLOW_SCRIPT = os.path.join(REPO_ROOT, "roles", "drill", "files", "lz-drill-flow")

# In the utility host (paths of the monitor role).
MONITOR_UNIT = "lz-failover-monitor.service"
# The contenders run in the first utility host; the monitors of the others are stopped for the run.
OTHER_MONITOR_HOSTS = tuple(machine for machine in topo.UTILITY_HOSTS if machine != "utility")
MONITOR_CONFIG = "/etc/lz-failover-monitor/config.yml"
MONITOR_STATE = "/var/lib/lz-failover-monitor/state.json"
MONITOR_PYTHON = "/opt/lz-failover-monitor/venv/bin/python"
# In onprem-dx and onprem-vpn (the fhrp role).
VRRP_STATE = "/var/lib/lz-fhrp/lan_gateway.state"
VRRP_ROUTERS = (("onprem-dx", drill.ROLE_DX), ("onprem-vpn", drill.ROLE_VPN))
# The lab's monitor configuration waits here on the host while a run has replaced it, so
# the next run can put it back even if this one was killed.
BACKUP_DIR = "/run/lz-lab-failover-bench"
CONFIG_MARKER = "# lz-lab-failover-bench: temporary configuration"

# The lab's table that lab_fault.yml's restore removes; the loss rules use it too.
FAULT_TABLE = "lzlab_fault"
# Only these lab settings are kept: where the API is and what to manage and probe, and the
# failback hold, which the on-premises routers' VRRP preempt delay shares (lz_failover_failback_hold_s).
KEPT_SETTINGS = ("region", "endpoint_url", "route_table_ids", "destination_cidrs", "vpn_eni_id", "probe_route_table_id")
KEPT_PROBE_SETTINGS = ("targets", "privileged")
KEPT_POLICY_SETTINGS = ("failback_hold_s",)
AWS_ENVIRONMENT = dict(lab_tool.AWS_ENVIRONMENT, AWS_EC2_METADATA_DISABLED="true")

FAILBACK_HOLD_S = POLICY_SCHEMA["failback_hold_s"][0]
BROWNOUT_WINDOW_S = POLICY_SCHEMA["brownout_window_s"][0]
WARMUP_S = BROWNOUT_WINDOW_S  # a full brownout window, as on a monitor that has run for a while
BASELINE_CYCLE_S = 4.0  # 3 echoes 1 s apart (~2 s) + 2 s pause: cuts land at a random point of it
ROUTE_POLL_S = 0.02
SETTLE_POLL_S = 0.2
HOLD_ON_VPN_S = 5.0
FAILOVER_CAP_S = 30.0
FAILBACK_CAP_S = 4 * FAILBACK_HOLD_S  # the first failover's hold plus BGP's return, with room to spare
VRRP_CAP_S = 30.0
HEALTHY_CAP_S = 60.0
FLAP_DOWN_S = 1.5
FLAP_UP_S = 1.5
SETTLE_CAP_S = 4 * FAILBACK_HOLD_S + 30.0
SETTLE_MARGIN_S = BASELINE_CYCLE_S + 2.0  # a late decision after settling still counts
SAMPLE_S = 2.0
FLOW_PORT = 47001  # not the drill's default, so a forgotten drill flow cannot mix in
FLOW_INTERVAL_S = 0.02
FLOW_MAX_S = 900  # a flow ends by itself even if this run dies
FLOW_TAIL_S = 2.0
FLOW_START_CAP_S = 30.0
FLOW_NAMES = ("workload -> onprem-host", "onprem-host -> workload")
FAULT_TEST_MINUTES = 5  # a BGP failover test outlives a trial; the trial stops it
# The fault kind of each scenario that cuts DX and restores it.
FAULT_OF_SCENARIO = {"cut": "blackhole", "link_down": "link_down", "bgp_test": "bgp_test"}


class BenchError(Exception):
    """Something the measurement needs did not happen (a process died, the lab never healed)."""


class SetupError(Exception):
    """The lab is not there or not usable; nothing was measured."""


def note(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def sleep_until(wall):
    remaining = wall - time.time()
    if remaining > 0:
        time.sleep(remaining)


def since(moment, origin):
    return None if moment is None or origin is None else round(moment - origin, 3)


def json_events(lines, name, start, end=None):
    """The JSON log lines of event ``name`` with ``start <= ts <= end`` (``ts`` has milliseconds, hence the allowance)."""
    events = []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") != name or "ts" not in event:
            continue
        moment = log_time(event)
        if moment >= start - 0.002 and (end is None or moment <= end):
            events.append(dict(event, time=moment))
    return events


# --------------------------------------------------------------------------- the lab


class Lab:
    """The running lab: its hosts' init PIDs, what the monitor manages, and the EC2 API."""

    def __init__(self, settings):
        self.pids = lab_tool.host_pids()
        self.settings = settings
        self.route_table_id = settings["route_table_ids"][0]
        self.ec2 = self.client()

    def client(self):
        return boto3.client("ec2", region_name=self.settings["region"], endpoint_url=topo.ENDPOINT_URL,
                            aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"], aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])

    def inside(self, host, argv, check=True, timeout=30):
        """``argv`` in every namespace of ``host`` (its systemd, journal and files)."""
        return nspawn.run_inside(self.pids[host], argv, check=check, timeout=timeout)

    def path(self, host, path):
        """A file of ``host`` seen from the host machine, without starting a process."""
        return "/proc/%d/root%s" % (self.pids[host], path)

    def read(self, host, path):
        try:
            with open(self.path(host, path), encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return None

    def dx_learned(self):
        """Whether BGP's routes are back: the probe subnet's table has a propagated route for every destination."""
        probe_table = self.settings["probe_route_table_id"]
        table = read_route_tables(self.ec2, [probe_table]).get(probe_table)
        return table is not None and all(table.propagated_routes(cidr) for cidr in self.settings["destination_cidrs"])

    def put_routes_on_dx(self):
        """Delete any static route the failover owns, with the collection's own planner."""
        snapshot = load_snapshot(self.ec2, [self.route_table_id], self.settings["destination_cidrs"], self.settings["vpn_eni_id"])
        apply_plan(self.ec2, plan_routes(snapshot.tables, snapshot.destinations, PATH_DX, snapshot.ownership))

    def vrrp_master(self):
        """The on-premises router whose state file says MASTER (the latest, while both briefly do)."""
        masters = []
        for host, _role in VRRP_ROUTERS:
            text = self.read(host, VRRP_STATE)
            try:
                state = json.loads(text) if text else {}
            except ValueError:
                state = {}
            if state.get("state") == drill.MASTER:
                masters.append((state.get("time") or 0.0, host))
        return max(masters)[1] if masters else None

    def vrrp_changes(self, start):
        """Every VRRP state change both routers logged since ``start``, parsed by the drill analysis."""
        changes = []
        for host, role in VRRP_ROUTERS:
            completed = self.inside(host, ["journalctl", "--identifier", "lz-fhrp", "--output", "json", "--no-pager",
                                           "--since", "@%d" % (int(start) - 1)], check=False)
            parsed, _problems = drill.parse_vrrp_log(completed.stdout.splitlines(), host, role)
            changes += [change for change in parsed if change["time"] >= start]
        return sorted(changes, key=lambda change: change["time"])


def bgp_withdrawals(start, end):
    """Times the VGW lost every prefix learned over DX (lab/vgw_agent.py's log): the BGP session ended."""
    drops = []
    with open(lab_tool.process_log("vgw-agent"), encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "bgp-learned" and not event.get("prefixes") and start <= event.get("time", 0) <= end:
                drops.append(event["time"])
    return drops


def load_fault_rules():
    """``(cut, clear)`` nftables rulesets: the lab's own (inventories/lab/group_vars/all/lab.yml) for DX."""
    with open(LAB_VARS_FILE, encoding="utf-8") as handle:
        variables = yaml.safe_load(handle)
    clear = variables["lz_lab_fault_clear"]
    template = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(variables["lz_lab_fault_rules"])
    cut = template.render(lz_lab_fault_clear=clear, lz_lab_fault_link=topo.DX_DEVICE, lz_lab_fault_match="")
    return cut, clear


def one_way_loss_rules(clear, percent):
    """Random loss on packets leaving the VPC side into DX only.

    The lab's dx_loss drops each way, so a round trip would see 1 - (1 - p)^2; dropping
    only what goes out into dx0 (forwarded, and the VPC router's own) makes a probe's
    round trip see ``percent``%.
    """
    rule = 'oifname "%s" numgen random mod 100 < %d drop' % (topo.DX_DEVICE, percent)
    chains = "".join("  chain %s { type filter hook %s priority -10; policy accept;\n    %s\n  }\n" % (hook, hook, rule) for hook in ("forward", "output"))
    return "%stable inet %s {\n%s}\n" % (clear, FAULT_TABLE, chains)


class DxFault:
    """Faults of Direct Connect, each started (and ended) by one call, timed from just before it.

    Kinds: ``blackhole`` (one nftables transaction on the VPC router's DX link; the link
    stays up), ``link_down`` (the VPC router's end of the link set down, so both ends lose
    carrier) and ``bgp_test`` (Direct Connect's StartBgpFailoverTest on the lab's virtual
    interface, through the EC2 endpoint; lab/vgw_agent.py takes the BGP session down).
    """

    KINDS = ("blackhole", "link_down", "bgp_test")

    def __init__(self):
        self.cut_rules, self.clear_rules = load_fault_rules()
        self.directconnect = boto3.client("directconnect", region_name=topo.REGION, endpoint_url=topo.ENDPOINT_URL,
                                          aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
                                          aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])

    @staticmethod
    def _timed(what, action):
        wall = time.time()
        action()
        return {"what": what, "wall": wall, "call_s": round(time.time() - wall, 4)}

    @staticmethod
    def _nft(rules):
        lab_tool.in_namespace("vpc-router", ["nft", "-f", "-"], input_text=rules)

    @staticmethod
    def _link(state):
        lab_tool.in_namespace("vpc-router", ["ip", "link", "set", topo.DX_DEVICE, state])

    def _bgp_test(self, running):
        if running:
            self.directconnect.start_bgp_failover_test(virtualInterfaceId=topo.DX_VIRTUAL_INTERFACE_ID, bgpPeers=[topo.DX_BGP_PEER_ID],
                                                       testDurationInMinutes=FAULT_TEST_MINUTES)
        else:
            self.directconnect.stop_bgp_failover_test(virtualInterfaceId=topo.DX_VIRTUAL_INTERFACE_ID)

    def start(self, kind):
        actions = {"blackhole": lambda: self._nft(self.cut_rules), "link_down": lambda: self._link("down"), "bgp_test": lambda: self._bgp_test(True)}
        return self._timed(kind, actions[kind])

    def end(self, kind):
        actions = {"blackhole": lambda: self._nft(self.clear_rules), "link_down": lambda: self._link("up"), "bgp_test": lambda: self._bgp_test(False)}
        return self._timed("restore", actions[kind])

    def bgp_test_running(self):
        tests = self.directconnect.list_virtual_interface_test_history(virtualInterfaceId=topo.DX_VIRTUAL_INTERFACE_ID, status="in-progress")
        return bool(tests["virtualInterfaceTestHistory"])

    def heal(self):
        """No fault of any kind, whatever an interrupted trial left: no nftables table, the link up, no BGP failover test."""
        self._link("up")
        if self.bgp_test_running():
            self._bgp_test(False)
        return self.end("blackhole")

    def loss(self, percent):
        return self._timed("loss %d%%" % percent, lambda: self._nft(one_way_loss_rules(self.clear_rules, percent)))


# --------------------------------------------------------------------------- the two contenders


class MonitorService:
    """The lab's lz-failover-monitor service in the utility host; its log is the journal."""

    label = "monitor"

    def __init__(self, lab):
        self.lab = lab
        self.started_at = None

    def systemctl(self, *arguments):
        return self.lab.inside("utility", ["systemctl"] + list(arguments), check=False)

    def stop(self):
        self.systemctl("stop", MONITOR_UNIT)

    def start(self):
        self.started_at = time.time()
        completed = self.systemctl("start", MONITOR_UNIT)
        if completed.returncode != 0:
            raise BenchError("systemctl start %s failed: %s" % (MONITOR_UNIT, completed.stderr.strip()))
        if not first_within(lambda: self.events("routes_converged", self.started_at), 30.0, 0.2):
            raise BenchError("the monitor did not read its route tables within 30 s of its start; journal:\n%s" % self.journal_tail())

    def log_lines(self, start):
        completed = self.lab.inside("utility", ["journalctl", "--unit", MONITOR_UNIT, "--output", "cat", "--no-pager",
                                                "--since", "@%d" % (int(start) - 1)], check=False)
        return completed.stdout.splitlines()

    def events(self, name, start, end=None):
        return json_events(self.log_lines(start), name, start, end)

    def journal_tail(self):
        return "\n".join(self.log_lines(self.started_at or time.time() - 60)[-20:])

    def host_pid(self):
        """The daemon's PID on this machine: the process in the service's cgroup, in the utility host's PID namespace."""
        main_pid = self.systemctl("show", "--property", "MainPID", "--value", MONITOR_UNIT).stdout.strip()
        wanted_namespace = os.readlink("/proc/%d/ns/pid" % self.lab.pids["utility"])
        for entry in os.listdir("/proc"):
            if entry.isdigit() and self._is_daemon(int(entry), wanted_namespace, main_pid):
                return int(entry)
        raise BenchError("no process of %s (MainPID %s in the utility host) found in /proc" % (MONITOR_UNIT, main_pid))

    @staticmethod
    def _is_daemon(pid, wanted_namespace, main_pid):
        try:
            with open("/proc/%d/cgroup" % pid, encoding="utf-8") as handle:
                in_unit = any(line.rstrip().endswith("/" + MONITOR_UNIT) for line in handle)
            if not in_unit or os.readlink("/proc/%d/ns/pid" % pid) != wanted_namespace:
                return False
            with open("/proc/%d/status" % pid, encoding="ascii") as handle:
                nspid = next(line.split()[1:] for line in handle if line.startswith("NSpid:"))
        except (OSError, StopIteration):
            return False
        return nspid[-1] == main_pid

    @staticmethod
    def metrics(url):
        """One scrape of the daemon's metrics endpoint, from inside the utility host's network."""
        completed = subprocess.run(["ip", "netns", "exec", topo.namespace("utility"), "curl", "--silent", "--max-time", "2", url],
                                   capture_output=True, text=True, timeout=10, check=False)
        return Metrics(completed.stdout) if completed.returncode == 0 else None


class BaselineProcess:
    """baseline_monitor.py in the utility host (its mount and network namespaces) with the monitor's virtualenv."""

    label = "baseline"

    def __init__(self, lab, workdir):
        self.lab = lab
        self.workdir = workdir
        self.inside_dir = "/run/lz-lab-bench-%d" % os.getpid()
        self.process = None
        self.log_path = None
        self.runs = 0

    def install(self):
        os.makedirs(self.lab.path("utility", self.inside_dir), mode=0o700, exist_ok=True)
        shutil.copy(BASELINE_SCRIPT, self.lab.path("utility", self.inside_dir + "/baseline_monitor.py"))

    def uninstall(self):
        shutil.rmtree(self.lab.path("utility", self.inside_dir), ignore_errors=True)

    def argv(self):
        settings = self.lab.settings
        argv = [MONITOR_PYTHON, self.inside_dir + "/baseline_monitor.py", "--endpoint-url", settings["endpoint_url"], "--region", settings["region"],
                "--vpn-eni-id", settings["vpn_eni_id"], "--target", settings["probe"]["targets"][0]]
        for table in settings["route_table_ids"]:
            argv += ["--route-table-id", table]
        for cidr in settings["destination_cidrs"]:
            argv += ["--destination", cidr]
        # No PID namespace: nsenter then execs the baseline itself, so this PID is the baseline's.
        return ["nsenter", "--target", str(self.lab.pids["utility"]), "--mount", "--uts", "--ipc", "--net", "--"] + argv

    def start(self):
        self.runs += 1
        self.log_path = os.path.join(self.workdir, "baseline-%d.log" % self.runs)
        environment = dict(AWS_ENVIRONMENT, PATH="/usr/sbin:/usr/bin:/sbin:/bin", PYTHONUNBUFFERED="1")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                            env=environment, start_new_session=True)
        started = time.time() - 1.0
        if not first_within(lambda: self.events("started", started) or self.process.poll() is not None, 30.0, 0.2):
            raise BenchError("the baseline did not start within 30 s; its log:\n%s" % self.log_tail())
        self.ensure_running()

    def ensure_running(self):
        if self.process is None or self.process.poll() is not None:
            raise BenchError("the baseline exited (code %s); its log:\n%s" % (None if self.process is None else self.process.returncode, self.log_tail()))

    def stop(self):
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def log_lines(self):
        if not self.log_path:
            return []
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()

    def events(self, name, start, end=None):
        return json_events(self.log_lines(), name, start, end)

    def log_tail(self):
        return "\n".join(self.log_lines()[-20:])

    def host_pid(self):
        self.ensure_running()
        return self.process.pid


# --------------------------------------------------------------------------- the monitor's configuration


def default_settings_config(lab_config):
    """The daemon's schema defaults plus only the lab's connection settings and its shared failback hold."""
    document = {key: lab_config[key] for key in KEPT_SETTINGS if lab_config.get(key) is not None}
    document["probe"] = {key: lab_config["probe"][key] for key in KEPT_PROBE_SETTINGS if key in lab_config["probe"]}
    document["policy"] = {key: lab_config["policy"][key] for key in KEPT_POLICY_SETTINGS if key in lab_config.get("policy", {})}
    return document


class MonitorFiles:
    """Swaps the lab's monitor configuration for the default-settings one, and puts it (and the state file) back."""

    def __init__(self, lab):
        self.lab = lab
        self.config_path = lab.path("utility", MONITOR_CONFIG)
        self.state_path = lab.path("utility", MONITOR_STATE)
        self.original = None
        self.original_state = None

    @staticmethod
    def backup(name):
        return os.path.join(BACKUP_DIR, name)

    def recover_previous_run(self):
        """A run that was killed left the temporary configuration in place: put the lab's back first."""
        with open(self.config_path, encoding="utf-8") as handle:
            current = handle.read()
        if CONFIG_MARKER in current:
            if not os.path.exists(self.backup("config.yml")):
                raise SetupError("%s holds a benchmark's configuration and no saved copy is left: converge the lab again "
                                 "(bash lab/lab.sh site)" % MONITOR_CONFIG)
            note("a previous run left its configuration behind: restoring the lab's from %s" % BACKUP_DIR)
            with open(self.backup("config.yml"), encoding="utf-8") as handle:
                self.write_in_place(self.config_path, handle.read())
        shutil.rmtree(BACKUP_DIR, ignore_errors=True)

    def save(self):
        with open(self.config_path, encoding="utf-8") as handle:
            self.original = handle.read()
        try:
            with open(self.state_path, "rb") as handle:
                self.original_state = (handle.read(), os.stat(self.state_path))
        except FileNotFoundError:
            self.original_state = None
        os.makedirs(BACKUP_DIR, mode=0o700, exist_ok=True)
        with open(os.open(self.backup("config.yml"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(self.original)
        return yaml.safe_load(self.original)

    @staticmethod
    def write_in_place(path, text):
        """Rewrite the file's content; its owner and mode (the service's user must read it) stay."""
        with open(path, "r+", encoding="utf-8") as handle:
            handle.write(text)
            handle.truncate()

    def install(self, document):
        text = "%s; the lab's own is restored at the end of the run.\n%s" % (CONFIG_MARKER, yaml.safe_dump(document, sort_keys=False))
        self.write_in_place(self.config_path, text)

    def remove_state(self):
        try:
            os.unlink(self.state_path)
        except FileNotFoundError:
            pass

    def restore(self):
        if self.original is None:
            return
        self.write_in_place(self.config_path, self.original)
        self.remove_state()
        if self.original_state is not None:
            content, status = self.original_state
            with open(os.open(self.state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, status.st_mode & 0o777), "wb") as handle:
                handle.write(content)
            os.chown(self.state_path, status.st_uid, status.st_gid)
        shutil.rmtree(BACKUP_DIR, ignore_errors=True)
        self.original = None


# --------------------------------------------------------------------------- observers


class RouteRecorder:
    """The collection's route watch (``aws.route_watch``, as lz_route_watch runs it) in a thread, at the benchmark's cadence.

    Each change carries the bounds the watch gives it: ``time`` (end of the read that saw
    it) and ``previous_read_time``. The settings are validated as the module's are, then
    the cadence is set finer than the module allows (its floor bounds a user's API cost;
    a measurement in the lab wants 20 ms).
    """

    def __init__(self, lab, interval, stop_file):
        settings = validate_watch_settings(
            [lab.route_table_id], lab.settings["destination_cidrs"], lab.settings["vpn_eni_id"],
            duration=MAX_WATCH_DURATION, stop_file=stop_file,
        )
        self.route_table_id = lab.route_table_id
        self.stop_file = stop_file
        self.watch = RouteWatch(lab.client(), dataclasses.replace(settings, interval=interval))
        self.thread = threading.Thread(target=self.watch.run, name="route-recorder", daemon=True)

    def start(self):
        self.watch.start()  # the validating first read, in the caller's thread: a bad lab fails here
        self.thread.start()
        return self

    @property
    def path(self):
        return self.watch.paths()[self.route_table_id]

    @property
    def changes(self):
        return self.watch.changes

    def first_change(self, path, start):
        return next((change for change in self.changes if change["to_path"] == path and change["time"] >= start), None)

    def first_change_within(self, path, start, timeout):
        return first_within(lambda: self.first_change(path, start), timeout, 0.01)

    def stop(self):
        with open(self.stop_file, "w", encoding="utf-8"):
            pass  # the watch ends at its next read
        self.thread.join(timeout=5)
        os.unlink(self.stop_file)


class FlowPair:
    """lz-drill-flow on the workload and on onprem-host: one datagram each way every 20 ms."""

    ENDS = (("workload", topo.subnet_of("workload").host_address, topo.PROBE_TARGET),
            ("onprem-host", topo.PROBE_TARGET, topo.subnet_of("workload").host_address))

    def __init__(self, workdir, name):
        self.stop_file = os.path.join(workdir, "%s.stop" % name)
        self.logs = {host: os.path.join(workdir, "%s-%s.jsonl" % (name, host)) for host, _address, _peer in self.ENDS}
        self.processes = {}

    def start(self):
        for host, address, peer in self.ENDS:
            argv = ["ip", "netns", "exec", topo.namespace(host), "python3", FLOW_SCRIPT, "--host", host, "--address", address, "--peer", peer,
                    "--port", str(FLOW_PORT), "--interval", str(FLOW_INTERVAL_S), "--max-duration", str(FLOW_MAX_S),
                    "--stop-file", self.stop_file, "--output", self.logs[host]]
            self.processes[host] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                                    stderr=subprocess.PIPE, start_new_session=True)

    def wait_flowing(self):
        # The flow writes through a 64 KiB buffer: at 20 ms its first lines reach the file after about 14 s.
        if not first_within(self.flowing, FLOW_START_CAP_S, 0.5):
            raise BenchError("the probe flow between the workload and onprem-host does not pass traffic both ways")

    def flowing(self):
        for host, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError("lz-drill-flow on %s exited: %s" % (host, process.stderr.read().decode(errors="replace").strip()))
            try:
                with open(self.logs[host], encoding="utf-8") as handle:
                    if '"type":"rx"' not in handle.read():
                        return False
            except FileNotFoundError:
                return False
        return True

    def stop(self):
        """Ask both ends to stop (they write their end line), then make sure by PID."""
        with open(self.stop_file, "w", encoding="ascii"):
            pass
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=5)
            process.stderr.close()
        self.processes = {}

    def analyse(self, origin):
        """Each direction with ansible_collections.localzones.failover.plugins.module_utils.drill: loss windows, longest outage, lost datagrams, TTL changes."""
        lines = {host: drill.read_lines(path)[0] for host, path in self.logs.items()}
        workload, onprem = drill.parse_flow_log(lines["workload"]), drill.parse_flow_log(lines["onprem-host"])
        directions = {}
        for name, sender, receiver in ((FLOW_NAMES[0], workload, onprem), (FLOW_NAMES[1], onprem, workload)):
            directions[name] = drill.analyse_direction(name, sender, receiver, origin)[0]
        return directions


# --------------------------------------------------------------------------- the scenarios


class Bench:  # pylint: disable=too-many-instance-attributes
    """The lab, the two contenders and the scenarios; every result goes into ``results`` as soon as it is known."""

    def __init__(self, lab, args, workdir):
        self.lab = lab
        self.args = args
        self.workdir = workdir
        self.rng = random.Random(args.seed)
        self.fault = DxFault()
        self.files = MonitorFiles(lab)
        self.contenders = {"monitor": MonitorService(lab), "baseline": BaselineProcess(lab, workdir)}
        self.flows = None
        self.watch = None
        self.results = {}
        self.errors = {}
        self.monitor_config = None
        self.metrics_url = None
        self.lab_config = None

    # -- set-up and tear-down

    def prepare(self):
        self.files.recover_previous_run()
        # The lab runs a monitor on every utility host, one lease between them (lab/README.md, "Two
        # monitors"). The contenders are measured alone: the others are stopped for the run (a holder
        # releases the lease as it stops), and the contender's replaced configuration has no
        # coordination, so it writes without a lease and nobody else does.
        for machine in OTHER_MONITOR_HOSTS:
            self.lab.inside(machine, ["systemctl", "stop", MONITOR_UNIT], check=False)
        self.lab_config = self.files.save()
        document = default_settings_config(self.lab_config)
        # The daemon's own validation: a problem stops the run before anything changed.
        metrics = validate_document(document).metrics
        self.metrics_url = "http://%s:%d/metrics" % (metrics.address, metrics.port)
        self.monitor_config = document
        self.files.install(document)
        self.contenders["baseline"].install()

    def finish(self):
        """Leave the lab as it was: no fault, routes on DX, the lab's configuration and state file, the service running."""
        self.stop_observers()
        for contender in self.contenders.values():
            contender.stop()
        self.fault.heal()
        self.contenders["baseline"].uninstall()
        if first_within(self.dx_healthy, HEALTHY_CAP_S, 0.2):
            self.lab.put_routes_on_dx()
        else:
            note("warning: DX did not look healthy within %g s; the route table is left to the monitor" % HEALTHY_CAP_S)
        self.files.restore()
        completed = self.contenders["monitor"].systemctl("start", MONITOR_UNIT)
        if completed.returncode != 0:
            note("warning: the monitor service did not start again: %s" % completed.stderr.strip())
        for machine in OTHER_MONITOR_HOSTS:
            completed = self.lab.inside(machine, ["systemctl", "start", MONITOR_UNIT], check=False)
            if completed.returncode != 0:
                note("warning: the monitor service in %s did not start again: %s" % (machine, completed.stderr.strip()))

    def stop_observers(self):
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        if self.flows is not None:
            self.flows.stop()
            self.flows = None

    def dx_healthy(self):
        return self.lab.dx_learned() and self.lab.vrrp_master() == "onprem-dx"

    def fresh_start(self, contender):
        """No fault, DX healthy, routes on DX, no monitor state file, only ``contender`` running, freshly started."""
        for other in self.contenders.values():
            other.stop()
        self.fault.heal()
        if not first_within(self.dx_healthy, HEALTHY_CAP_S, 0.2):
            raise BenchError("DX did not become healthy within %g s (BGP routes learned and onprem-dx VRRP master)" % HEALTHY_CAP_S)
        self.lab.put_routes_on_dx()
        self.files.remove_state()
        contender.start()

    def start_watch(self, interval):
        self.watch = RouteRecorder(self.lab, interval, os.path.join(self.workdir, "route-recorder.stop"))
        try:
            self.watch.start()
        except FailoverError as exc:
            self.watch = None
            raise BenchError("the route watch could not start: %s" % exc) from exc
        return self.watch

    def store(self, scenario, contender, key, value):
        self.results.setdefault(scenario, {}).setdefault(contender.label, {}).setdefault(key, []).append(value)

    # -- cut

    def scenario_cut(self, contender):
        self.fault_trials(contender, "cut")

    def scenario_link_down(self, contender):
        self.fault_trials(contender, "link_down")

    def scenario_bgp_test(self, contender):
        self.fault_trials(contender, "bgp_test")

    def fault_trials(self, contender, scenario):
        for index in range(self.args.cuts):
            trial = self.cut_trial(contender, FAULT_OF_SCENARIO[scenario])
            self.store(scenario, contender, "trials", trial)
            flows = trial["flows"]
            note("%s %d/%d (%s): decision %s s, route %s s, outage %s / %s s, failback %s s, asymmetry %s s" % (
                scenario, index + 1, self.args.cuts, contender.label, trial["detection_s"], trial["route_switched_s"],
                flows[FLOW_NAMES[0]]["longest_outage_s"], flows[FLOW_NAMES[1]]["longest_outage_s"], trial["failback_s"],
                trial["failback_asymmetry_s"]))

    def cut_trial(self, contender, kind):
        """Start the fault, wait for the route switch, 5 s on the VPN, end it, wait for the failback and VRRP's return."""
        start = time.time()
        self.fresh_start(contender)
        watch = self.start_watch(ROUTE_POLL_S)
        self.flows = FlowPair(self.workdir, "%s-%d" % (contender.label, int(start)))
        self.flows.start()
        time.sleep(WARMUP_S)
        self.flows.wait_flowing()
        time.sleep(self.rng.uniform(0.0, BASELINE_CYCLE_S))
        cut = self.fault.start(kind)
        on_vpn = watch.first_change_within(PATH_VPN, cut["wall"], FAILOVER_CAP_S)
        sleep_until((on_vpn["time"] if on_vpn else time.time()) + HOLD_ON_VPN_S)
        restore = self.fault.end(kind)
        back = watch.first_change_within(PATH_DX, restore["wall"], FAILBACK_CAP_S) if on_vpn else None
        first_within(lambda: self.lab.vrrp_master() == "onprem-dx", VRRP_CAP_S, 0.2)
        time.sleep(FLOW_TAIL_S)
        flows = self.flows
        self.stop_observers()
        moments = {"start": start, "cut": cut, "restore": restore, "on_vpn": on_vpn, "back": back}
        return self.describe_cut(contender, moments, flows.analyse(cut["wall"]))

    def describe_cut(self, contender, moments, flows):
        """One cut's numbers: from the contender's log, the route watch, the VRRP journals and the flow analysis."""
        start, cut, restore, on_vpn, back = (moments[key] for key in ("start", "cut", "restore", "on_vpn", "back"))
        transitions = contender.events("transition", start)
        decision = next((event for event in transitions if event["to_path"] == PATH_VPN and event["time"] >= cut["wall"] - 0.002), None)
        undo = next((event for event in transitions if event["to_path"] == PATH_DX and event["time"] >= restore["wall"] - 0.002), None)
        vrrp = self.lab.vrrp_changes(start)
        vrrp_on_vpn = next((c for c in vrrp if c["role"] == drill.ROLE_VPN and c["state"] == drill.MASTER and c["time"] >= cut["wall"]), None)
        vrrp_back = next((c for c in vrrp if c["role"] == drill.ROLE_DX and c["state"] == drill.MASTER and c["time"] >= restore["wall"]), None)
        return {
            "cut": cut, "restore": restore,
            "detection_s": since(decision and decision["time"], cut["wall"]), "decision_reason": decision and decision["reason"],
            "route_switched_s": since(on_vpn and on_vpn["time"], cut["wall"]),
            "route_read_resolution_s": since(on_vpn and on_vpn["time"], on_vpn and on_vpn["previous_read_time"]),
            "on_vpn_s": since(restore["wall"], on_vpn and on_vpn["time"]),
            "failback_decision_s": since(undo and undo["time"], restore["wall"]),
            "failback_s": since(back and back["time"], restore["wall"]),
            "vrrp_on_vpn_s": since(vrrp_on_vpn and vrrp_on_vpn["time"], cut["wall"]),
            "vrrp_back_on_dx_s": since(vrrp_back and vrrp_back["time"], restore["wall"]),
            # As the drill reports it: positive when on-premises was back on DX first.
            "failback_asymmetry_s": since(back and back["time"], vrrp_back and vrrp_back["time"]),
            "failback_lost": failback_losses(flows, restore["wall"]),
            "transitions": [{"ts": e["ts"], "to_path": e["to_path"], "reason": e.get("reason")} for e in transitions],
            "vrrp_changes": [{"t": since(c["time"], cut["wall"]), "host": c["host"], "state": c["state"]} for c in vrrp],
            "flows": flows,
        }

    # -- loss

    def scenario_loss5(self, contender):
        self.loss_run(contender, 5, "loss5")

    def scenario_loss10(self, contender):
        self.loss_run(contender, 10, "loss10")

    def scenario_loss20(self, contender):
        self.loss_run(contender, 20, "loss20")

    def loss_run(self, contender, percent, scenario):
        duration = self.args.loss_minutes * 60.0
        self.fresh_start(contender)
        time.sleep(WARMUP_S)
        pid = contender.host_pid()
        echoes_before = self.echo_counts(contender)
        first = dict(proc_usage(pid), wall=time.time())
        fault = self.fault.loss(percent)
        samples, worst_window = self.sample_during(contender, pid, fault["wall"] + duration)
        end = time.time()
        self.fault.heal()
        echoes_after = self.echo_counts(contender)
        transitions = contender.events("transition", fault["wall"], end)
        run = {
            "loss_pct_applied": percent, "fault": fault, "duration_s": round(end - fault["wall"], 1),
            "failovers": sum(1 for event in transitions if event["to_path"] == PATH_VPN), "transitions": len(transitions),
            "transition_list": [{"t": since(e["time"], fault["wall"]), "to_path": e["to_path"], "reason": e.get("reason"),
                                 "window_loss_pct": (e.get("evidence") or {}).get("window_loss_pct")} for e in transitions],
            "echoes": self.echo_delta(echoes_before, echoes_after), "worst_window_loss_ratio": worst_window,
            # The loss hits BFD too: three BFD packets lost in a row end the BGP session, a real DX failure.
            "bgp_session_drops": len(bgp_withdrawals(fault["wall"], end)),
            "vrrp_changes": [{"t": since(c["time"], fault["wall"]), "host": c["host"], "state": c["state"]}
                             for c in self.lab.vrrp_changes(fault["wall"]) if c["time"] <= end],
            "usage": usage_summary(first, samples, pid),
        }
        self.store(scenario, contender, "runs", run)
        usage = run["usage"]
        note("%s (%s): %s, %s; CPU %.2f%%, RSS %.1f MiB" % (
            scenario, contender.label, plural(run["failovers"], "failover"), plural(run["transitions"], "transition"),
            usage["cpu_pct_of_one_core"], usage["rss_mib_end"]))

    def sample_during(self, contender, pid, until):
        """CPU and memory every SAMPLE_S until ``until``; for the monitor also the worst brownout-window loss it reported."""
        samples, worst = [], None
        while time.time() < until:
            time.sleep(max(0.0, min(SAMPLE_S, until - time.time())))
            samples.append(dict(proc_usage(pid), wall=time.time()))
            if contender.label == "monitor":
                metrics = contender.metrics(self.metrics_url)
                ratio = metrics and metrics.value("lz_failover_target_window_loss_ratio", target=self.probe_target())
                worst = ratio if ratio is not None and (worst is None or ratio > worst) else worst
            else:
                contender.ensure_running()
        return samples, rounded(worst)

    def probe_target(self):
        return self.monitor_config["probe"]["targets"][0]

    def echo_counts(self, contender):
        if contender.label != "monitor":
            return None  # the baseline does not log its echoes
        metrics = contender.metrics(self.metrics_url)
        if metrics is None:
            return None
        target = self.probe_target()
        return {kind: metrics.value("lz_failover_echoes_%s_total" % kind, target=target) for kind in ("sent", "lost")}

    @staticmethod
    def echo_delta(before, after):
        if not before or not after or None in list(before.values()) + list(after.values()):
            return None
        sent, lost = after["sent"] - before["sent"], after["lost"] - before["lost"]
        return {"sent": int(sent), "lost": int(lost), "loss_pct": rounded(100.0 * lost / sent if sent else None, 2)}

    # -- flapping

    def scenario_flap(self, contender):
        self.fresh_start(contender)
        watch = self.start_watch(SETTLE_POLL_S)
        time.sleep(WARMUP_S)
        start = time.time()
        period = FLAP_DOWN_S + FLAP_UP_S
        for cycle in range(int(self.args.flap_seconds // period)):
            sleep_until(start + cycle * period)
            self.fault.start("blackhole")
            sleep_until(start + cycle * period + FLAP_DOWN_S)
            self.fault.end("blackhole")
        sleep_until(start + self.args.flap_seconds)
        flap_end = time.time()
        settled = first_within(lambda: self.settled_on_dx(contender, watch, start), SETTLE_CAP_S, 0.2)
        time.sleep(SETTLE_MARGIN_S)
        end = time.time()
        self.stop_observers()
        transitions = contender.events("transition", start, end)
        run = {
            "flap_seconds": self.args.flap_seconds, "down_s": FLAP_DOWN_S, "up_s": FLAP_UP_S, "settle_cap_s": SETTLE_CAP_S,
            "failovers": sum(1 for event in transitions if event["to_path"] == PATH_VPN),
            "failbacks": sum(1 for event in transitions if event["to_path"] == PATH_DX),
            "during_flapping": sum(1 for event in transitions if event["time"] <= flap_end),
            "settled_after_flapping_s": since(settled, flap_end),
            "transition_list": [{"t": since(e["time"], start), "to_path": e["to_path"], "reason": e.get("reason")} for e in transitions],
            "route_changes": [{"t": since(c["time"], start), "to_path": c["to_path"]} for c in watch.changes],
        }
        self.store("flap", contender, "runs", run)
        note("flap (%s): %s, %s, settled %s s after the flapping" % (
            contender.label, plural(run["failovers"], "failover"), plural(run["failbacks"], "failback"), run["settled_after_flapping_s"]))

    @staticmethod
    def settled_on_dx(contender, watch, start):
        """The time the route table is on DX and the contender's latest decision (if any) is DX, else None."""
        if watch.path != PATH_DX:
            return None
        transitions = contender.events("transition", start)
        return time.time() if not transitions or transitions[-1]["to_path"] == PATH_DX else None


def usage_summary(first, samples, pid):
    """CPU (% of one core, all threads) and RSS over the samples taken after ``first``."""
    if not samples:
        return {"pid": pid, "cpu_pct_of_one_core": None, "rss_mib_end": None}
    last = samples[-1]
    elapsed = last["wall"] - first["wall"]
    rss = [sample["rss_kib"] for sample in samples]
    return {
        "pid": pid, "elapsed_s": round(elapsed, 1), "cpu_s": round(last["cpu_s"] - first["cpu_s"], 3),
        "cpu_pct_of_one_core": round(100.0 * (last["cpu_s"] - first["cpu_s"]) / elapsed, 2),
        "rss_mib_end": round(last["rss_kib"] / 1024.0, 1), "rss_mib_max": round(max(rss) / 1024.0, 1),
        "vmhwm_mib": round(last["hwm_kib"] / 1024.0, 1), "threads": last["threads"], "rss_kib_samples": rss,
    }


# --------------------------------------------------------------------------- the table


def describe_times(values, what="cut"):
    summary = stats(values)
    if "median" not in summary:
        return "never (%s)" % plural(summary["n"], what)
    text = "median %.2f s, max %.2f s (%s)" % (summary["median"], summary["max"], plural(summary["n"], what))
    return text + (", %d never" % summary["missed"] if summary["missed"] else "")


def describe_outage(trials, name):
    flows = [trial["flows"][name] for trial in trials]
    summary = stats([flow["longest_outage_s"] for flow in flows])
    if "median" not in summary:
        return "-"
    lost = [flow["lost"] for flow in flows]
    lost_text = "%d" % lost[0] if min(lost) == max(lost) else "%d-%d" % (min(lost), max(lost))
    return "median %.2f s, max %.2f s (%s datagrams lost in all)" % (summary["median"], summary["max"], lost_text)


def describe_vrrp(trials):
    there, back = stats([t["vrrp_on_vpn_s"] for t in trials]), stats([t["vrrp_back_on_dx_s"] for t in trials])
    return "onprem-vpn after %s, onprem-dx again after %s (medians)" % (
        "%.2f s" % there["median"] if "median" in there else "never", "%.2f s" % back["median"] if "median" in back else "never")


def failback_losses(flows, restored):
    """Datagrams each direction lost in loss windows that began after the restore: what the move back to DX cost."""
    return {name: sum(window["lost"] for window in direction["loss_windows"] if window["start"] is not None and window["start"] >= restored)
            for name, direction in flows.items()}


def describe_failback_loss(trials):
    totals = {name: [trial["failback_lost"][name] for trial in trials] for name in FLOW_NAMES}
    return "; ".join("%s: %d lost (max %d in a trial)" % (name, sum(values), max(values, default=0)) for name, values in totals.items())


def describe_asymmetry(trials):
    """The failback's asymmetric window: how long one direction was back on DX before the other."""
    values = [trial["failback_asymmetry_s"] for trial in trials]
    summary = stats([abs(value) for value in values if value is not None])
    if "median" not in summary:
        return "not measured (%s)" % plural(len(values), "trial")
    first = sum(1 for value in values if value is not None and value > 0)
    return "median %.2f s, max %.2f s; on-premises back first in %d of %d" % (summary["median"], summary["max"], first, summary["n"])


def fault_rows(prefix, scenario, what):
    """Rows 1-4 of one fault scenario: detection, the outage each way, the failback's asymmetry."""
    return (
        (prefix + "a", "%s: detection (log `transition`)" % what, scenario, lambda r, _l: describe_times([t["detection_s"] for t in r["trials"]])),
        (prefix + "b", "%s: outage %s" % (what, FLOW_NAMES[0]), scenario, lambda r, _l: describe_outage(r["trials"], FLOW_NAMES[0])),
        (prefix + "c", "%s: outage %s" % (what, FLOW_NAMES[1]), scenario, lambda r, _l: describe_outage(r["trials"], FLOW_NAMES[1])),
        (prefix + "d", "%s: failback asymmetric window" % what, scenario, lambda r, _l: describe_asymmetry(r["trials"])),
        (prefix + "e", "%s: datagrams lost at failback" % what, scenario, lambda r, _l: describe_failback_loss(r["trials"])),
    )


def describe_loss(runs, label):
    run = runs[-1]
    text = "%s, %s" % (plural(run["failovers"], "failover"), plural(run["transitions"], "transition"))
    if run["echoes"]:
        text += "; echo loss seen %.1f%%" % run["echoes"]["loss_pct"]
    if run["worst_window_loss_ratio"] is not None:
        text += ", worst 10 s window %d%%" % round(100 * run["worst_window_loss_ratio"])
    if label == "baseline":
        text += " (its echoes are not logged)"
    if "bgp_session_drops" in run:
        text += "; BGP session ended %s (BFD)" % plural(run["bgp_session_drops"], "time")
    moves = sum(1 for change in run["vrrp_changes"] if change["host"] == "onprem-vpn" and change["state"] == drill.MASTER)
    return text + "; on-prem VRRP to onprem-vpn %s" % plural(moves, "time")


def describe_flap(runs):
    run = runs[-1]
    text = "%s, %s" % (plural(run["failovers"], "failover"), plural(run["failbacks"], "failback"))
    if run["settled_after_flapping_s"] is None:
        return text + "; not back on DX %g s after the flapping" % run["settle_cap_s"]
    return text + "; back on DX %.1f s after the flapping" % run["settled_after_flapping_s"]


def describe_usage(results):
    for scenario in ("loss5", "loss10", "loss20"):
        runs = results.get(scenario, {})
        if runs:
            return scenario, {label: runs[label]["runs"][-1]["usage"] for label in runs}
    return None, {}


ROW_SPECS = (
    ("1", "detection: DX cut -> decision (log `transition`)", "cut", lambda r, _l: describe_times([t["detection_s"] for t in r["trials"]])),
    ("2", "route switched: DX cut -> static route in DescribeRouteTables", "cut",
     lambda r, _l: describe_times([t["route_switched_s"] for t in r["trials"]])),
    ("3a", "outage %s: longest loss run" % FLOW_NAMES[0], "cut", lambda r, _l: describe_outage(r["trials"], FLOW_NAMES[0])),
    ("3b", "outage %s: longest loss run" % FLOW_NAMES[1], "cut", lambda r, _l: describe_outage(r["trials"], FLOW_NAMES[1])),
    ("3c", "on-prem VRRP (context): after the cut / after the restore", "cut", lambda r, _l: describe_vrrp(r["trials"])),
    ("4", "failback: DX restored -> static route deleted", "cut", lambda r, _l: describe_times([t["failback_s"] for t in r["trials"]])),
    ("4b", "failback asymmetric window: route table vs on-prem VRRP back on DX", "cut", lambda r, _l: describe_asymmetry(r["trials"])),
    ("4c", "datagrams lost at failback (loss windows starting after the restore)", "cut", lambda r, _l: describe_failback_loss(r["trials"])),
    ("5a", "5% random loss on DX (one way): failovers", "loss5", lambda r, label: describe_loss(r["runs"], label)),
    ("5b", "20% random loss on DX (one way): failovers", "loss20", lambda r, label: describe_loss(r["runs"], label)),
    ("5c", "10% random loss on DX (one way): failovers", "loss10", lambda r, label: describe_loss(r["runs"], label)),
    ("6", "DX flapping 1.5 s down / 1.5 s up: transitions until on DX", "flap", lambda r, _l: describe_flap(r["runs"])),
) + fault_rows("8", "link_down", "DX link down") + fault_rows("9", "bgp_test", "BGP failover test")


def table_rows(results, errors):
    rows = []
    for number, what, scenario, describe in ROW_SPECS:
        if scenario not in results and scenario not in errors:
            continue
        row = {"number": number, "what": what}
        for label in CONTENDERS:
            if label in results.get(scenario, {}):
                row[label] = describe(results[scenario][label], label)
            else:
                row[label] = "not measured: %s" % errors[scenario][label] if label in errors.get(scenario, {}) else "-"
        rows.append(row)
    scenario, usage = describe_usage(results)
    if usage:
        row = {"number": "7", "what": "CPU (%% of one core) and RSS, over the %s%% loss run" % scenario[len("loss"):]}
        for label in CONTENDERS:
            value = usage.get(label)
            row[label] = "-" if not value or value["cpu_pct_of_one_core"] is None else "CPU %.2f%%, RSS %.1f MiB" % (
                value["cpu_pct_of_one_core"], value["rss_mib_end"])
        rows.append(row)
    return rows


def render_table(rows):
    if not rows:
        return "(nothing was measured)"
    headers = ["#", "what", "lz-failover-monitor (default settings)", "baseline (3 echoes 1 s apart, 10 good cycles)"]
    cells = [[row["number"], row["what"], row["monitor"], row["baseline"]] for row in rows]
    widths = [max(len(text) for text in column) for column in zip(headers, *cells)]
    lines = [headers, ["-" * width for width in widths]] + cells
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in lines)


# --------------------------------------------------------------------------- run


def lab_problem():
    """Why the lab cannot be used as it is, or None."""
    state = lab_tool.load_state()
    if state is None:
        return "the lab is not up"
    pids = lab_tool.host_pids()
    missing = [host for host in topo.HOSTS if host not in pids]
    if missing:
        return "lab hosts not running: %s" % ", ".join(missing)
    dead = [name for name, record in state["processes"].items() if nspawn.process_start_time(record["pid"]) != record["start"]]
    if dead:
        return "lab processes not running: %s" % ", ".join(dead)
    if not os.path.exists(lab_tool.PROVISION_VARS_FILE) or not os.path.exists("/proc/%d/root%s" % (pids["utility"], MONITOR_CONFIG)):
        return "the lab is up but not converged (no provisioned resources or no monitor configuration)"
    return None


def read_lab_settings():
    """The monitor's configuration in the utility host: what it manages, probes and calls."""
    with open("/proc/%d/root%s" % (lab_tool.host_pids()["utility"], MONITOR_CONFIG), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def lab_script(command):
    note("bash lab/lab.sh %s" % command)
    completed = subprocess.run(["bash", os.path.join(REPO_ROOT, "lab", "lab.sh"), command], cwd=REPO_ROOT, check=False)
    if completed.returncode != 0:
        raise SetupError("bash lab/lab.sh %s failed (exit %d)" % (command, completed.returncode))


def ensure_lab(args):
    """Check the lab, or build and converge it with --setup; returns whether this run brought it up."""
    problem = lab_problem()
    if problem is None:
        return False
    if not args.setup:
        raise SetupError("%s. Bring it up and converge it first (bash lab/lab.sh up && bash lab/lab.sh site), or pass --setup" % problem)
    built = lab_tool.load_state() is None
    if built:
        lab_script("up")
    lab_script("site")
    problem = lab_problem()
    if problem:
        raise SetupError("after --setup: %s" % problem)
    return built


def run_scenarios(bench, args):
    """Every selected scenario, monitor first then baseline; True when all were measured."""
    measured = True
    for scenario in args.scenarios:
        for label in args.contenders:
            note("scenario %s: %s" % (scenario, label))
            try:
                getattr(bench, "scenario_" + scenario)(bench.contenders[label])
            except (BenchError, FailoverError, OSError, subprocess.SubprocessError, lab_tool.LabUpError, nspawn.LabError) as exc:
                note("scenario %s (%s) could not be measured: %s\n%s" % (scenario, label, exc, traceback.format_exc()))
                bench.errors.setdefault(scenario, {})[label] = " ".join(str(exc).split())[:200]
                bench.stop_observers()
                measured = False
    return measured


def result_document(args, bench, started, interrupted, built_lab):
    return {
        "benchmark": "lab_failover",
        "started_at": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(),
        "duration_s": round(time.time() - started, 1),
        "interrupted": interrupted,
        "options": {key: value for key, value in vars(args).items() if key != "only"},
        "machine": dict(machine_info(), loadavg_end=load_average()),
        "lab": {"built_by_this_run": built_lab, "route_table_id": bench.lab.route_table_id if bench else None,
                "lab_monitor_config": bench.lab_config if bench else None, "monitor_config_used": bench.monitor_config if bench else None},
        "monitor_defaults": {"probe": {k: v for k, (v, _c) in PROBE_SCHEMA.items() if k != "targets"},
                             "policy": {k: v for k, (v, _c) in POLICY_SCHEMA.items()}},
        "baseline_rule": {"script": "benchmarks/baseline_monitor.py", "python": MONITOR_PYTHON, "echoes_per_cycle": 3, "echo_interval_s": 1.0,
                          "echo_timeout_s": 1.0, "pause_s": 2.0, "failover": "all 3 echoes of a cycle lost", "failback": "10 good cycles in a row"},
        "method": {"route_poll_s": ROUTE_POLL_S, "warmup_s": WARMUP_S, "hold_on_vpn_s": HOLD_ON_VPN_S, "flow_interval_s": FLOW_INTERVAL_S,
                   "flow_port": FLOW_PORT, "loss": "nftables numgen random on packets leaving the VPC router into dx0 (forward and output)"},
        "errors": bench.errors if bench else {},
        "table": table_rows(bench.results, bench.errors) if bench else [],
        "results": bench.results if bench else {},
    }


def scenario_list(text):
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [name for name in names if name not in SCENARIO_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError("unknown scenario %s (choose from %s)" % (", ".join(unknown), ", ".join(SCENARIO_NAMES)))
    return names


def contender_list(text):
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError("choose contenders from %s" % ", ".join(CONTENDERS))
    return tuple(label for label in CONTENDERS if label in names)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="See benchmarks/README.md. Needs root and the lab.")
    parser.add_argument("--cuts", type=positive(int), help="trials per contender of each fault scenario (default 3, quick 1)")
    parser.add_argument("--loss-minutes", type=positive(float), help="length of each loss run (default 3, quick 0.5)")
    parser.add_argument("--flap-seconds", type=positive(float), help="length of the flapping (default 60, quick 15)")
    parser.add_argument("--only", type=scenario_list, action="append", metavar="SCENARIO",
                        help="run only these scenarios (comma-separated, repeatable): %s" % ", ".join(SCENARIO_NAMES))
    parser.add_argument("--contenders", type=contender_list, default=CONTENDERS, metavar="NAMES",
                        help="comma-separated, from %s (default both)" % ", ".join(CONTENDERS))
    parser.add_argument("--quick", action="store_true", help="1 cut, 30 s loss runs, 15 s of flapping (about 8 minutes)")
    parser.add_argument("--setup", action="store_true", help="bring the lab up and converge it first when it is not (about 90 s)")
    parser.add_argument("--keep-lab", action="store_true", help="leave a lab that --setup brought up running (default: take it down again)")
    parser.add_argument("--seed", type=int, help="seed of the random pauses before the cuts")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/lab-<UTC timestamp>.json)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the flow and baseline logs (their directory is printed)")
    args = parser.parse_args(argv)
    for name, full, quick in (("cuts", 3, 1), ("loss_minutes", 3.0, 0.5), ("flap_seconds", 60.0, 15.0)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    selected = {name for names in (args.only or [SCENARIO_NAMES]) for name in names}
    args.scenarios = [name for name in SCENARIO_NAMES if name in selected]
    return args


def estimated_minutes(args):
    """Seconds per contender of each scenario, summed over the contenders chosen."""
    loss_run_s = args.loss_minutes * 60 + 20
    per_contender = {"cut": args.cuts * 70.0, "link_down": args.cuts * 70.0, "bgp_test": args.cuts * 70.0,
                     "loss5": loss_run_s, "loss10": loss_run_s, "loss20": loss_run_s, "flap": args.flap_seconds + 60}
    return len(args.contenders) * sum(per_contender[name] for name in args.scenarios) / 60.0


def print_report(content, output, interrupted):
    info = content["machine"]
    print()
    print("lz-failover-monitor on the lab%s: %.1f min, commit %s%s, %s CPUs, kernel %s, load %.2f at the end" % (
        " (interrupted, partial)" if interrupted else "", content["duration_s"] / 60.0, (info["commit"] or "?")[:12],
        " (uncommitted changes)" if info["worktree_dirty"] else "", info["nproc"], info["kernel"], info["loadavg_end"][0]))
    print(render_table(content["table"]))
    shown = os.path.relpath(output)
    print("raw numbers: %s" % (output if shown.startswith("..") else shown))


def main(argv=None):  # pylint: disable=too-many-branches
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("setup error: the lab benchmark needs root (namespaces, nftables, nsenter)", file=sys.stderr)
        return EXIT_SETUP
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    started = time.time()
    workdir = tempfile.mkdtemp(prefix="lz-lab-bench-")
    bench, built_lab, interrupted, exit_code = None, False, False, EXIT_OK
    try:
        try:
            built_lab = ensure_lab(args)
            note("scenarios %s; expect about %.0f minutes" % (", ".join(args.scenarios), estimated_minutes(args)))
            bench = Bench(Lab(read_lab_settings()), args, workdir)
            bench.prepare()
        except (SetupError, FailoverError, OSError, KeyError, subprocess.SubprocessError, lab_tool.LabUpError, nspawn.LabError) as exc:
            print("setup error: %s" % exc, file=sys.stderr)
            exit_code = EXIT_SETUP
        else:
            if not run_scenarios(bench, args):
                exit_code = EXIT_SETUP
    except KeyboardInterrupt:
        interrupted, exit_code = True, EXIT_INTERRUPTED
        note("interrupted: cleaning up")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        clean_up(bench, args, built_lab, workdir)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if bench is None:
        return exit_code
    output = results_path("lab", started, args.output)
    content = result_document(args, bench, started, interrupted, built_lab)
    write_results(output, content, indent=2)
    print_report(content, output, interrupted)
    return exit_code


def clean_up(bench, args, built_lab, workdir):
    """Put the lab back; every step is tried even when one fails."""
    if bench is not None:
        try:
            bench.finish()
        except Exception as exc:  # pylint: disable=broad-exception-caught  # the rest of the clean-up must still run
            note("clean-up problem: %s\n%s" % (exc, traceback.format_exc()))
    if built_lab and not args.keep_lab:
        try:
            lab_script("down")
        except SetupError as exc:
            note("clean-up problem: %s" % exc)
    if args.keep_logs:
        note("logs kept in %s" % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
