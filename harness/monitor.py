# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab for the monitor daemon: real ICMP, the EC2 fidelity endpoint, the real process.

Topology (every address from the lab ranges)::

    host namespace                 daemon namespace                    target namespace
    (the test)  --host link /30--  lz-failover-monitor, the EC2  --veth--  on-prem targets
                                   fidelity endpoint, metrics            on its loopback

* The daemon and the fidelity endpoint (``python -m tools.endpoint`` as a process) run in
  the daemon namespace; the endpoint and the metrics listen on that namespace's end of
  the host link, which is how the test reaches them. The host link carries only its
  own /30 and the daemon namespace has no default route, so probes can only go to the
  target namespace.
* "DX down" drops every echo request to the DX targets in the target namespace
  (nftables); the VPN check target can be dropped separately.

``MonitorLab`` is built once per test module; ``fresh_world()`` resets the endpoint
and builds the reference topology for each test. ``Daemon`` wraps one daemon process
(its JSON log in a file, its metrics, signals); every process is ended by PID at
cleanup through the NetnsLab.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness.aws import CLEARED_VARIABLES
from harness.aws import DUMMY_CREDENTIALS
from harness.aws import build_lz_world
from harness.aws import delete_faults
from harness.aws import ec2_client
from harness.aws import get_fault_stats
from harness.aws import get_request_log
from harness.aws import put_fault
from harness.aws import reset_server
from harness.netns import PYTHON
from harness.netns import NetnsLab
from harness.netns import build_pair
from harness.netns import require_netns
from harness.paths import COLLECTIONS_ROOT
from harness.paths import REPO_ROOT
from harness.processes import stop_process
from harness.waiting import wait_for

DX_TARGETS = ("198.18.1.10", "198.18.1.11", "2001:db8:1::10")
VPN_TARGET = "198.18.1.20"
FIDELITY_PORT = 5000
METRICS_PORT = 9190
# The host link's /30 comes from this block, picked by PID so concurrent runs differ.
HOST_LINK_BLOCK = ipaddress.ip_network("198.18.248.0/21")
ROUTE_CHANGING_ACTIONS = ("CreateRoute", "ReplaceRoute", "DeleteRoute")
_daemon_numbers = itertools.count(1)


def static_routes(ec2, rtb_id):
    """``{destination: target}`` of the static (CreateRoute) routes of a table."""
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    routes = {}
    for route in table["Routes"]:
        if route.get("Origin") == "CreateRoute":
            destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
            routes[destination] = route.get("NetworkInterfaceId") or route.get("GatewayId")
    return routes


def all_routes(ec2, rtb_id):
    """Every route of a table as sorted (destination, origin, target) tuples, to compare before/after."""
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return sorted(
        (
            route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock") or "",
            route.get("Origin", ""),
            route.get("NetworkInterfaceId") or route.get("GatewayId") or "",
        )
        for route in table["Routes"]
    )


def route_changing_requests(endpoint_url):
    """Per-Action counts of the requests that can change a route (from the fault counters)."""
    requests = get_fault_stats(endpoint_url)["requests"]
    return {action: requests.get(action, 0) for action in ROUTE_CHANGING_ACTIONS}


def hold_nth_request(endpoint_url, action, nth, hold_ms, refuse=False):
    """Make the endpoint hold the ``nth`` next ``action`` request for ``hold_ms``, then apply it (or refuse it: InternalError).

    The ones before it pass (a 1 ms rule each). With ``api.max_parallel_calls: 1`` the daemon
    sends its route calls one after the other, so while the ``nth`` is held exactly ``nth - 1``
    of them have been applied and none after it has been sent: ``wait_until_held`` says when.
    """
    if nth > 1:
        put_fault(endpoint_url, action, None, delay_ms=1, count=nth - 1)
    put_fault(endpoint_url, action, "InternalError" if refuse else None, delay_ms=hold_ms, count=1)


def wait_until_held(endpoint_url, action, nth, refuse=False, timeout=15):
    """Wait until the endpoint holds the request of ``hold_nth_request``: it arrived and its answer is not out yet."""
    def held():
        stats = get_fault_stats(endpoint_url)
        return stats["faults"].get(action, 0) >= 1 if refuse else stats["delayed"].get(action, 0) >= nth
    wait_for(held, timeout, "the endpoint to hold %s number %d" % (action, nth), 0.005)


def caller_requests(endpoint_url, access_key_id, actions=None, service="ec2"):
    """The endpoint's request log records of one caller (the access key a daemon signs with), in the order they started.

    ``actions``: only these (e.g. ``ROUTE_CHANGING_ACTIONS``). Each record has ``start``,
    ``end`` (server time), ``action`` and ``status``; a request is logged once answered.
    """
    log = get_request_log(endpoint_url)
    assert log["dropped"] == 0, "the request log lost records: it no longer proves anything"
    chosen = [entry for entry in log["requests"] if entry["access_key_id"] == access_key_id and entry["service"] == service
              and (actions is None or entry["action"] in actions)]
    return sorted(chosen, key=lambda entry: entry["start"])


def deep_update(document, overrides):
    """``document`` with ``overrides`` merged in, nested mappings merged key by key."""
    merged = copy.deepcopy(document)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def checkout_import_path():
    """A directory in which ``lz_failover_monitor`` is this checkout's ``monitor/``.

    The virtualenv's editable install maps the package to the checkout that ran
    scripts/setup.sh; a test run from another checkout (a git worktree sharing that
    virtualenv) must start the daemon from its own code, so this directory and the
    collection path go first on the daemon's PYTHONPATH.
    """
    root = os.path.join(REPO_ROOT, ".cache", "monitor-import")
    link, target = os.path.join(root, "lz_failover_monitor"), os.path.join(REPO_ROOT, "monitor")
    if os.path.realpath(link) != target:
        os.makedirs(root, exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
    return root


def daemon_environment(access_key_id=None):
    """The test's environment with dummy AWS credentials (``access_key_id`` instead of the dummy one) and nothing of a developer's AWS setup."""
    env = {name: value for name, value in os.environ.items() if name not in CLEARED_VARIABLES}
    env.update(DUMMY_CREDENTIALS)
    if access_key_id is not None:
        env["AWS_ACCESS_KEY_ID"] = access_key_id
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [checkout_import_path(), COLLECTIONS_ROOT, env.get("PYTHONPATH")]))
    return env


class NotificationInbox:
    """An SNS topic on the endpoint with an SQS queue subscribed to it: what the daemon publishes lands here."""

    def __init__(self, endpoint_url, region="us-east-1"):
        import boto3

        options = {"region_name": region, "endpoint_url": endpoint_url, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        sns, self._sqs = boto3.client("sns", **options), boto3.client("sqs", **options)
        self.topic_arn = sns.create_topic(Name="lz-failover-monitor")["TopicArn"]
        self._queue_url = self._sqs.create_queue(QueueName="lz-failover-monitor-inbox")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        self.messages = []

    def receive(self):
        """Every message received so far (decoded JSON bodies)."""
        answer = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            self.messages.append(json.loads(message["Body"]))
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return self.messages


class CloudWatchReader:
    """Reads back, from the endpoint, what the daemon published to CloudWatch."""

    def __init__(self, endpoint_url, namespace, failover_group, region="us-east-1"):
        import boto3

        self._client = boto3.client(
            "cloudwatch", region_name=region, endpoint_url=endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        self.namespace = namespace
        self.failover_group = failover_group

    def metric_names(self):
        """``{(metric name, (dimension values after the group))}`` that ListMetrics shows."""
        metrics = self._client.list_metrics(Namespace=self.namespace)["Metrics"]
        return {(metric["MetricName"], tuple(dimension["Value"] for dimension in metric["Dimensions"][1:])) for metric in metrics}

    def statistic(self, name, stat, **dimensions):
        """``stat`` of metric ``name`` over the last hour in one period (None when it has no data)."""
        now = datetime.now(timezone.utc)
        dimension_list = [{"Name": "FailoverGroup", "Value": self.failover_group}]
        dimension_list += [{"Name": key, "Value": value} for key, value in dimensions.items()]
        metric = {"Namespace": self.namespace, "MetricName": name, "Dimensions": dimension_list}
        query = {"Id": "q", "MetricStat": {"Metric": metric, "Period": 3600, "Stat": stat}}
        answer = self._client.get_metric_data(MetricDataQueries=[query], StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=30))
        values = answer["MetricDataResults"][0]["Values"]
        return values[0] if values else None


class Blackhole:
    """A TCP listener that accepts every connection and never answers: a hung AWS endpoint."""

    def __init__(self, address):
        self._listener = socket.create_server((address, 0))
        self.url = "http://%s:%d" % (address, self._listener.getsockname()[1])
        self.connections = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _peer = self._listener.accept()
            except OSError:
                return  # closed
            self.connections.append(connection)  # held open, never read or answered

    def close(self):
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self._listener.close()
        for connection in self.connections:
            connection.close()


# --------------------------------------------------------------------------- the daemon process


class Metrics:
    """One scrape of the metrics endpoint."""

    def __init__(self, text):
        self.samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def value(self, name, **labels):
        """The sample's value, or None when the endpoint does not have it."""
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def names(self):
        return {name for name, _labels in self.samples}


class Daemon:
    """One lz-failover-monitor process in the daemon namespace."""

    def __init__(self, lab, ns, config_path, log_path, metrics_url, access_key_id=None):  # pylint: disable=too-many-arguments
        self.log_path = str(log_path)
        self.metrics_url = metrics_url
        self.access_key_id = access_key_id or DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        self.started_at = time.time()
        with open(self.log_path, "ab") as log_file:
            self.process = lab.spawn_in(
                ns, [PYTHON, "-m", "lz_failover_monitor", "--config", str(config_path)], env=daemon_environment(access_key_id),
                stdout=log_file, stderr=subprocess.STDOUT,
            )

    @property
    def pid(self):
        return self.process.pid

    def lines(self):
        """Every log line so far, decoded; lines that are not JSON (a crash) come back as ``{"event": "raw"}``."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except FileNotFoundError:
            return []
        events = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"event": "raw", "line": line})
        return events

    def mark(self):
        """A place in the log: pass it as ``since`` to see only the events logged after it.

        Take it before a step (a cut, a restore) and wait for that step's event, not for the
        first such event the daemon ever logged (an earlier cut's, already there).
        """
        return len(self.lines())

    def events(self, name, since=0, **fields):
        """Log events called ``name`` whose fields include ``fields``, logged after the mark ``since``."""
        return [event for event in self.lines()[since:]
                if event.get("event") == name and all(event.get(key) == value for key, value in fields.items())]

    def wait_for_event(self, name, timeout=10.0, interval=0.02, since=0, **fields):
        """The first ``name`` event with ``fields`` after the mark ``since``; fails when the process exits or time runs out."""
        def found():
            events = self.events(name, since, **fields)
            if events:
                return events[0]
            if self.process.poll() is not None:
                raise AssertionError("the daemon exited (%s) before logging %s %s; log:\n%s" % (self.process.returncode, name, fields, self.log_tail()))
            return None
        try:
            return wait_for(found, timeout, "log event %s %s" % (name, fields), interval)
        except AssertionError as exc:
            raise AssertionError("%s\nlog:\n%s" % (exc, self.log_tail())) from None

    def log_tail(self, lines=40):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])

    def scrape(self):
        with urllib.request.urlopen(self.metrics_url, timeout=3) as response:
            return Metrics(response.read().decode())

    def signal(self, signum):
        self.process.send_signal(signum)

    def wait(self, timeout=10.0):
        return self.process.wait(timeout)

    def kill(self):
        """SIGKILL, and reap it."""
        self.process.kill()
        self.process.wait(10)

    def assert_running(self):
        assert self.process.poll() is None, "the daemon exited (%s); log:\n%s" % (self.process.returncode, self.log_tail())


# --------------------------------------------------------------------------- the lab


def host_link_addresses():
    """(host address, daemon namespace address), each with /30, from this process's slice of the block."""
    subnet = list(HOST_LINK_BLOCK.subnets(new_prefix=30))[os.getpid() % (HOST_LINK_BLOCK.num_addresses // 4)]
    host, daemon_side = list(subnet.hosts())
    return "%s/30" % host, "%s/30" % daemon_side


class MonitorLab:
    """The namespaces, the host link and the fidelity endpoint (see the module docstring)."""

    def __init__(self, netns_lab, workdir):
        self.lab = netns_lab
        self.workdir = str(workdir)
        self.pair = build_pair(netns_lab)
        for address in DX_TARGETS + (VPN_TARGET,):
            self.pair.add_target(address)
        host_cidr, daemon_cidr = host_link_addresses()
        netns_lab.host_link(self.ns, host_cidr, daemon_cidr)
        self.address = daemon_cidr.split("/")[0]
        self.host_address = host_cidr.split("/")[0]  # the test process's end of the link
        self.endpoint_url = self._start_endpoint()
        self.metrics_url = "http://%s:%d/metrics" % (self.address, METRICS_PORT)
        self._dx_down = False
        self._vpn_down = False
        self.daemons = []

    @property
    def ns(self):
        """The daemon's namespace."""
        return self.pair.prober

    def _start_endpoint(self):
        log_path = os.path.join(self.workdir, "fidelity.log")
        with open(log_path, "wb") as log_file:
            process = self.lab.spawn_in(
                self.ns, [PYTHON, "-m", "tools.endpoint", "--host", self.address, "--port", str(FIDELITY_PORT)],
                env=daemon_environment(), stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            )

        def url_printed():
            if process.poll() is not None:
                raise AssertionError("the fidelity endpoint exited: %s" % open(log_path, encoding="utf-8").read())
            with open(log_path, encoding="utf-8") as handle:
                first = handle.readline().strip()
            return first if first.startswith("http://") else None
        return wait_for(url_printed, 60, "the fidelity endpoint to start", 0.1)

    # -- EC2

    def ec2(self):
        return ec2_client(self.endpoint_url)

    def fresh_world(self):
        """Reset the endpoint (resources, faults, counters) and build the reference topology."""
        reset_server(self.endpoint_url)
        world = build_lz_world(self.ec2(), self.endpoint_url)
        delete_faults(self.endpoint_url)  # counters start at zero after the setup calls
        return world

    # -- the network

    def _apply_drops(self):
        dropped = (DX_TARGETS if self._dx_down else ()) + ((VPN_TARGET,) if self._vpn_down else ())
        self.lab.replace_icmp_drops(self.pair.target, dropped)

    def set_dx(self, up):
        """Cut (False) or restore (True) the DX path: every echo to the DX targets is dropped."""
        self._dx_down = not up
        self._apply_drops()

    def set_vpn(self, up):
        self._vpn_down = not up
        self._apply_drops()

    def reset_network(self):
        self._dx_down = self._vpn_down = False
        self._apply_drops()

    def wait_until_dead_callers_are_answered(self, timeout=15):
        """Wait until the endpoint has finished every request of a caller that went away (a killed daemon).

        The kernel closes a killed process's connections; the endpoint's end of each stays in
        CLOSE-WAIT until its server thread has answered what it read from it and read the end.
        None left means no request of the dead daemon is still to land (one a delay rule holds
        included), so a restart reads the tables as the dead daemon left them. An event, not
        a sleep: on a loaded machine it simply comes later.
        """
        def none_left():
            sockets = self.lab.run_in(self.ns, ["ss", "-Htn", "state", "close-wait", "( sport = :%d )" % FIDELITY_PORT]).stdout
            return not sockets.strip()
        wait_for(none_left, timeout, "the endpoint to finish the requests of the killed daemon", 0.02)

    # -- configuration and processes

    def config(self, world, **overrides):
        """A configuration document for ``world`` with test-friendly timings, plus ``overrides``."""
        document = {
            "region": world.region,
            "endpoint_url": self.endpoint_url,
            "route_table_ids": [world.prod_rtb_id],
            "destination_cidrs": list(world.onprem_cidrs),
            "vpn_eni_id": world.vpn_eni_id,
            "probe_route_table_id": world.probe_rtb_id,
            "probe": {"targets": list(DX_TARGETS)},
            # A short hold, not doubled by dampening, keeps the tests quick.
            "policy": {"failback_hold_s": 3, "dampening_max_hold_s": 3},
            "reconcile_interval_s": 2,
            "status_interval_s": 1,
            # botocore's own retries stay short so the daemon's retry loop is what is tested.
            "api": {"max_attempts": 2, "retry_backoff_max_s": 1, "connect_timeout_s": 2, "read_timeout_s": 5},
            # Scraped from the host over the link: beyond the daemon's loopback, so allowed on purpose.
            "metrics": {"address": self.address, "port": METRICS_PORT, "allow_remote": True},
            "state_file": os.path.join(self.workdir, "state.json"),
        }
        return deep_update(document, overrides)

    def write_config(self, document, name="config.yaml"):
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(document, handle, sort_keys=False)
        return path

    def start_daemon(self, config_path, name="daemon", access_key_id=None, metrics_port=METRICS_PORT):
        """Start a daemon; ``access_key_id``: sign with this key (one caller of the request log); ``metrics_port``: its config's."""
        log_path = os.path.join(self.workdir, "%s-%d.log" % (name, next(_daemon_numbers)))
        metrics_url = "http://%s:%d/metrics" % (self.address, metrics_port)
        daemon = Daemon(self.lab, self.ns, config_path, log_path, metrics_url, access_key_id=access_key_id)
        self.daemons.append(daemon)
        return daemon

    def begin_test(self, workdir):
        """Per-test start: files go to ``workdir``, the network is healthy."""
        self.workdir = str(workdir)
        self.reset_network()

    def end_test(self):
        """Per-test end: every daemon the test started is ended by PID, the network restored."""
        for daemon in self.daemons:
            stop_process(daemon.process)
        self.daemons = []
        self.reset_network()

    def run_cli(self, *arguments, timeout=60):
        """Run the command line (in the daemon namespace) and return the CompletedProcess."""
        return self.lab.run_in(self.ns, [PYTHON, "-m", "lz_failover_monitor"] + list(arguments), check=False, timeout=timeout, env=daemon_environment())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def monitor_lab(tmp_path_factory):
    """One MonitorLab for the test module; its namespaces and processes are removed at the end."""
    require_netns()
    lab = NetnsLab()
    try:
        yield MonitorLab(lab, tmp_path_factory.mktemp("monitor-lab"))
    finally:
        lab.cleanup()


@pytest.fixture
def mlab(monitor_lab, tmp_path):  # pylint: disable=redefined-outer-name
    """The module's MonitorLab, begun for this test (files under ``tmp_path``) and ended after it."""
    monitor_lab.begin_test(tmp_path)
    try:
        yield monitor_lab
    finally:
        monitor_lab.end_test()
