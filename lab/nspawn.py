# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab test hosts: the Debian tree from lab/image.sh booted with systemd-nspawn.

Each host runs systemd as PID 1 inside a network namespace the caller made
(``ip netns add``); this module creates no network plumbing of its own. The tree
is booted with ``--volatile=overlay``, so every boot starts from the image and
whatever a host writes disappears with it.

State of each host is kept in ``/run/lzlab/<name>.json``: the PIDs and start
times of the systemd-nspawn process and of the container's init. Start times
make a stale file (a host that died, or a machine that rebooted) recognisable
even when its PIDs have been reused. ``down`` only ever signals those recorded
processes.

Ansible reaches a host with the ``community.docker.nsenter`` connection and
``ansible_nsenter_pid`` set to the init PID (``pid NAME``).

CLI (from the repository root)::

    python -m lab.nspawn up NAME --netns NS [--rootfs DIR] [--timeout S]
    python -m lab.nspawn down NAME          # orderly poweroff (the container's systemd stops every unit)
    python -m lab.nspawn kill NAME          # power cut: SIGKILL, nothing inside gets to run again
    python -m lab.nspawn pid NAME
    python -m lab.nspawn exec NAME -- COMMAND...
    python -m lab.nspawn list
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
IMAGE_SCRIPT = os.path.join(LAB_DIR, "image.sh")
IMAGES_DIR = os.environ.get("LAB_IMAGES_DIR", os.path.join(LAB_DIR, "images"))
DEFAULT_SUITE = "bookworm"
STATE_DIR = os.environ.get("LZLAB_STATE_DIR", "/run/lzlab")
NETNS_DIR = "/run/netns"
# systemd-nspawn keeps a per-machine directory here; it refuses to delete it
# when /run is not a tmpfs, so down() removes it (it is empty by then).
PROPAGATE_DIR = "/run/systemd/nspawn/propagate"
# The namespaces the community.docker.nsenter connection enters, too.
NSENTER_NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid")
CAPABILITIES = "CAP_NET_ADMIN,CAP_NET_RAW"
BOOTED_STATES = ("running", "degraded")
# Machine names become host names: keep them to one DNS label.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
POLL_SECONDS = 0.1


class LabError(RuntimeError):
    """A lab host could not be started, found or stopped."""


@dataclass
class Host:  # pylint: disable=too-many-instance-attributes
    """What is recorded about one booted lab host."""

    name: str
    netns: str
    rootfs: str
    nspawn_pid: int
    nspawn_start: int
    init_pid: int = 0
    init_start: int = 0
    console_log: str = ""
    boot_seconds: float = 0.0

    @property
    def nspawn_alive(self):
        """True while the recorded systemd-nspawn process (not a reused PID) still runs."""
        return process_start_time(self.nspawn_pid) == self.nspawn_start

    @property
    def init_alive(self):
        """True while the container's recorded init still runs (it can outlive a killed nspawn)."""
        return bool(self.init_pid) and process_start_time(self.init_pid) == self.init_start

    @property
    def alive(self):
        return self.nspawn_alive or self.init_alive


# --------------------------------------------------------------------------- processes


def process_start_time(pid):
    """Start time of ``pid`` in clock ticks since boot, or None when it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def process_name(pid):
    try:
        with open("/proc/%d/comm" % pid, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def child_pids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid), encoding="ascii") as handle:
            return [int(child) for child in handle.read().split()]
    except FileNotFoundError:
        return []


def reap_if_child(pid):
    """Collect the exit status when ``pid`` is our own child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def signal_if_same(pid, start_time, signum):
    """Send ``signum`` to ``pid`` only if it is still the process that started at ``start_time``."""
    if process_start_time(pid) != start_time:
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_for_exit(pid, start_time, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap_if_child(pid)
        if process_start_time(pid) != start_time:
            return True
        time.sleep(POLL_SECONDS)
    return False


# --------------------------------------------------------------------------- state files


def state_path(name):
    return os.path.join(STATE_DIR, name + ".json")


def console_path(name):
    return os.path.join(STATE_DIR, name + ".console")


def save(host):
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    temporary = state_path(host.name) + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(asdict(host), handle, indent=2, sort_keys=True)
    os.replace(temporary, state_path(host.name))


def load(name):
    """The recorded host called ``name``, or None when nothing (readable) is recorded."""
    try:
        with open(state_path(name), encoding="utf-8") as handle:
            return Host(**json.load(handle))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None  # a torn or foreign file: treat like no record


def forget(name):
    for path in (state_path(name), console_path(name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(os.path.join(PROPAGATE_DIR, name))
    except OSError:
        pass


def recorded_names():
    try:
        entries = os.listdir(STATE_DIR)
    except FileNotFoundError:
        return []
    return sorted(entry[:-5] for entry in entries if entry.endswith(".json"))


# --------------------------------------------------------------------------- image


def ensure_image(force=False):
    """Build the image if it is missing or stale (lab/image.sh) and return its tree."""
    argv = ["bash", IMAGE_SCRIPT, "build"] + (["--force"] if force else [])
    completed = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    if completed.returncode != 0:
        raise LabError("lab/image.sh failed with exit code %d (its messages are above)" % completed.returncode)
    return completed.stdout.strip().splitlines()[-1]


def default_rootfs(suite=DEFAULT_SUITE):
    link = os.path.join(IMAGES_DIR, suite)
    if not os.path.isdir(link):
        raise LabError("no image at %s: build it with lab/image.sh" % link)
    return os.path.realpath(link)


# --------------------------------------------------------------------------- inside a host


def nsenter_argv(init_pid, argv):
    return ["nsenter", "--target", str(init_pid)] + list(NSENTER_NAMESPACES) + ["--"] + list(argv)


def run_inside(init_pid, argv, check=True, timeout=60, input_text=None):
    """Run ``argv`` in the host's namespaces (as root) and return the CompletedProcess."""
    completed = subprocess.run(nsenter_argv(init_pid, argv), capture_output=True, text=True, timeout=timeout, input=input_text, check=False)
    if check and completed.returncode != 0:
        raise LabError("inside PID %d, %s failed (exit %d): %s" % (init_pid, " ".join(argv), completed.returncode, completed.stderr.strip()))
    return completed


def system_state(init_pid):
    """What ``systemctl is-system-running`` says inside, e.g. starting, running, degraded."""
    completed = run_inside(init_pid, ["systemctl", "is-system-running"], check=False, timeout=10)
    return completed.stdout.strip() or "unknown"


# --------------------------------------------------------------------------- up / down


def nspawn_argv(name, netns, rootfs):
    return [
        "systemd-nspawn",
        "--quiet",
        "--register=no",
        "--keep-unit",
        "--volatile=overlay",
        "--network-namespace-path=" + os.path.join(NETNS_DIR, netns),
        "--capability=" + CAPABILITIES,
        "--machine=" + name,
        "--console=read-only",
        "--boot",
        "--directory=" + rootfs,
    ]


def nspawn_environment():
    env = dict(os.environ)
    # /proc/sys/net is per network namespace; writable, it lets roles set
    # net.* sysctls (e.g. ping_group_range) for this host alone.
    env["SYSTEMD_NSPAWN_API_VFS_WRITABLE"] = "network"
    return env


def check_up_arguments(name, netns):
    if not NAME_PATTERN.match(name):
        raise LabError("host name %r must be lowercase letters, digits and dashes (one DNS label)" % name)
    if not os.path.exists(os.path.join(NETNS_DIR, netns)):
        raise LabError("network namespace %r does not exist (ip netns add %s)" % (netns, netns))


def claim_name(name):
    """Refuse a name that is in use; drop the record of a host that is no longer running."""
    recorded = load(name)
    if recorded is None:
        forget(name)
        return
    if recorded.alive:
        raise LabError("lab host %s is already running (nspawn PID %d, init PID %d)" % (name, recorded.nspawn_pid, recorded.init_pid))
    forget(name)


def start_nspawn(name, netns, rootfs):
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    with open(console_path(name), "wb") as console:
        # Its own session: the host outlives a CLI call and ignores the caller's Ctrl-C.
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            nspawn_argv(name, netns, rootfs),
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, env=nspawn_environment(), start_new_session=True,
        )
    start_time = process_start_time(process.pid) or 0
    return Host(name=name, netns=netns, rootfs=rootfs, nspawn_pid=process.pid, nspawn_start=start_time, console_log=console_path(name))


def console_tail(host, lines=15):
    try:
        with open(host.console_log, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def find_init(host, deadline):
    """Wait for the container's PID 1 (systemd-nspawn's child once it has exec'd systemd)."""
    while time.monotonic() < deadline:
        if not host.nspawn_alive:
            raise LabError("systemd-nspawn for %s exited during boot:\n%s" % (host.name, console_tail(host)))
        for child in child_pids(host.nspawn_pid):
            if process_name(child) == "systemd":
                return child, process_start_time(child)
        time.sleep(POLL_SECONDS)
    raise LabError("%s: no systemd process appeared under systemd-nspawn:\n%s" % (host.name, console_tail(host)))


def wait_until_booted(host, deadline):
    state = "unknown"
    while time.monotonic() < deadline:
        if not host.nspawn_alive:
            raise LabError("%s stopped during boot:\n%s" % (host.name, console_tail(host)))
        state = system_state(host.init_pid)
        if state in BOOTED_STATES:
            return state
        time.sleep(POLL_SECONDS)
    raise LabError("%s did not finish booting (last state: %s):\n%s" % (host.name, state, console_tail(host)))


def up(name, netns, rootfs=None, timeout=60.0):
    """Boot ``rootfs`` (default: the current image) as host ``name`` in namespace ``netns``."""
    check_up_arguments(name, netns)
    claim_name(name)
    started = time.monotonic()
    deadline = started + timeout
    host = start_nspawn(name, netns, os.path.realpath(rootfs) if rootfs else default_rootfs())
    save(host)
    try:
        host.init_pid, host.init_start = find_init(host, deadline)
        save(host)
        wait_until_booted(host, deadline)
    except BaseException:
        down(name)
        raise
    host.boot_seconds = round(time.monotonic() - started, 2)
    save(host)
    return host


def stop(host, timeout):
    """Power the host off; force it when it does not go in time. True when it went orderly."""
    # SIGTERM makes systemd-nspawn ask the container's systemd to power off; no time for it, no SIGTERM (kill()).
    if timeout > 0 and signal_if_same(host.nspawn_pid, host.nspawn_start, signal.SIGTERM):
        if wait_for_exit(host.nspawn_pid, host.nspawn_start, timeout) and not host.init_alive:
            return True
    # Killing PID 1 of the container ends every process in its PID namespace;
    # this also covers an init left behind by a systemd-nspawn that was killed.
    if host.init_pid:
        signal_if_same(host.init_pid, host.init_start, signal.SIGKILL)
    signal_if_same(host.nspawn_pid, host.nspawn_start, signal.SIGKILL)
    for pid, start_time in ((host.init_pid, host.init_start), (host.nspawn_pid, host.nspawn_start)):
        if pid and not wait_for_exit(pid, start_time, 10):
            raise LabError("PID %d of lab host %s did not exit after SIGKILL" % (pid, host.name))
    return False


def down(name, timeout=20.0):
    """Stop host ``name`` if it runs and remove its record; False when nothing was running.

    ``timeout`` is the orderly poweroff's: 0 skips it (``kill``).
    """
    host = load(name)
    if host is None:
        forget(name)
        return False
    was_running = host.alive
    if was_running:
        stop(host, timeout)
    forget(name)
    return was_running


def kill(name):
    """Cut host ``name``'s power: SIGKILL its init and systemd-nspawn at once, then forget it.

    Unlike ``down``, no process inside gets a signal it can handle: a monitor on the host
    cannot release its lease or flush anything, as when an instance fails or loses power.
    False when nothing was running.
    """
    return down(name, timeout=0)


def init_pid(name):
    """The init PID of running host ``name`` (for ansible_nsenter_pid)."""
    host = load(name)
    if host is None or not host.init_alive:
        raise LabError("lab host %s is not running" % name)
    return host.init_pid


def hosts():
    """Every recorded host, running or stale."""
    return [host for host in map(load, recorded_names()) if host is not None]


# --------------------------------------------------------------------------- CLI


def _cmd_up(args):
    host = up(args.name, args.netns, args.rootfs, args.timeout)
    print("%s: up in %.2f s, init PID %d (nspawn PID %d), console log %s" % (host.name, host.boot_seconds, host.init_pid, host.nspawn_pid, host.console_log))


def _cmd_down(args):
    started = time.monotonic()
    if down(args.name, args.timeout):
        print("%s: down in %.2f s" % (args.name, time.monotonic() - started))
    else:
        print("%s: was not running" % args.name)


def _cmd_kill(args):
    if kill(args.name):
        print("%s: killed (SIGKILL, no orderly shutdown)" % args.name)
    else:
        print("%s: was not running" % args.name)


def _cmd_pid(args):
    print(init_pid(args.name))


def _cmd_exec(args):
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LabError("exec needs a command after --")
    return subprocess.call(nsenter_argv(init_pid(args.name), command))


def _cmd_list(_args):
    print("%-20s %-28s %10s %10s  %s" % ("NAME", "NETNS", "NSPAWN", "INIT", "STATE"))
    for host in hosts():
        state = "running" if host.alive else "stale (down NAME removes it)"
        print("%-20s %-28s %10d %10d  %s" % (host.name, host.netns, host.nspawn_pid, host.init_pid, state))


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Boot and stop lab test hosts (systemd-nspawn, one per network namespace).")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="boot a host in an existing network namespace")
    up_parser.add_argument("name")
    up_parser.add_argument("--netns", required=True, help="name under /run/netns")
    up_parser.add_argument("--rootfs", help="tree to boot (default: lab/images/%s)" % DEFAULT_SUITE)
    up_parser.add_argument("--timeout", type=float, default=60.0)
    up_parser.set_defaults(handler=_cmd_up)
    down_parser = commands.add_parser("down", help="power a host off and forget it")
    down_parser.add_argument("name")
    down_parser.add_argument("--timeout", type=float, default=20.0)
    down_parser.set_defaults(handler=_cmd_down)
    kill_parser = commands.add_parser("kill", help="cut a host's power (SIGKILL, no orderly shutdown) and forget it")
    kill_parser.add_argument("name")
    kill_parser.set_defaults(handler=_cmd_kill)
    pid_parser = commands.add_parser("pid", help="print the init PID (ansible_nsenter_pid)")
    pid_parser.add_argument("name")
    pid_parser.set_defaults(handler=_cmd_pid)
    exec_parser = commands.add_parser("exec", help="run a command inside a host")
    exec_parser.add_argument("name")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    exec_parser.set_defaults(handler=_cmd_exec)
    list_parser = commands.add_parser("list", help="recorded hosts")
    list_parser.set_defaults(handler=_cmd_list)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        return args.handler(args) or 0
    except LabError as error:
        print("nspawn.py: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
