# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""State and byte counters of one swanctl connection, with a diagnosis when it is down.

Installed by the localzones.failover.strongswan role to /usr/local/lib/lz-failover/ and run
through the /usr/local/sbin/lz-swanctl-status wrapper.

    lz-swanctl-status site                   # summary; exit 0 when up, 1 when not
    lz-swanctl-status site --child net --wait 30 --initiate-after 5 --json

The connection counts as up when it has an IKE SA in state ESTABLISHED and every
child named with --child (default: any child) has a CHILD SA in state INSTALLED.
The data comes from ``swanctl --list-sas --ike NAME --pretty``. When the connection
is not up, the daemon's recent journal is searched for the usual causes (failed
authentication, proposal or traffic selector mismatch, an unreachable peer, a
kernel without IPsec ESP) and the matching log line is reported. Neither swanctl
nor charon print pre-shared keys, so nothing here can reveal one.
"""

import argparse
import json
import re
import subprocess
import sys
import time

SWANCTL = "/usr/sbin/swanctl"
JOURNALCTL = "/bin/journalctl"
POLL_SECONDS = 0.5
JOURNAL_LINES = 400

# (pattern in charon's log, what it means). The newest matching line wins.
DIAGNOSES = (
    (
        re.compile(r"AUTHENTICATION_FAILED|MAC mismatched|no shared key found|verification of AUTH payload .*failed"),
        "authentication failed: the pre-shared keys (or certificates) of the two gateways do not match, or an IKE identity is wrong",
    ),
    (
        re.compile(r"NO_PROPOSAL_CHOSEN|no acceptable proposal|no matching proposal"),
        "no common proposal: the IKE or ESP proposals differ between the gateways, or the peer could not install its CHILD SA",
    ),
    (
        re.compile(r"TS_UNACCEPTABLE|traffic selectors .* unacceptable"),
        "traffic selectors rejected: local_ts and remote_ts must mirror each other on the two gateways",
    ),
    (
        re.compile(r"no IKE config found|no matching peer config found|peer config match"),
        "the peer's addresses or IKE identities match no connection on the responding gateway",
    ),
    (
        re.compile(r"unable to install .*IPsec SA|unable to add SAD entry"),
        "the kernel refused the IPsec SAs (no IPsec ESP support?): use the libipsec kernel backend on such hosts",
    ),
    (
        re.compile(r"giving up after \d+ retransmits|retransmit \d+ of request"),
        "the peer does not answer: IKE (UDP 500/4500) does not get through to the remote address",
    ),
)


class SwanctlError(Exception):
    """swanctl could not be asked (daemon not running, no vici socket)."""


def parse_pretty(text):
    """Parse ``swanctl ... --pretty`` output into a list of (message name, dict) pairs."""
    messages = []
    stack = []
    list_key = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if list_key is not None:
            if line == "]":
                list_key = None
            else:
                stack[-1][list_key].append(line)
            continue
        if line.endswith("{"):
            section = {}
            name = line[:-1].strip()
            if stack:
                stack[-1][name] = section
            else:
                messages.append((name, section))
            stack.append(section)
        elif line == "}":
            if stack:
                stack.pop()
        elif line.endswith("= ["):
            list_key = line[:-3].strip()
            if stack:
                stack[-1][list_key] = []
            else:
                list_key = None
        elif "=" in line and stack:
            key, value = line.split("=", 1)
            stack[-1][key.strip()] = value.strip()
    return messages


def as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def child_summary(child):
    return {
        "name": child.get("name", ""),
        "uniqueid": child.get("uniqueid", ""),
        "reqid": child.get("reqid", ""),
        "state": child.get("state", ""),
        "mode": child.get("mode", ""),
        "spi_in": child.get("spi-in", ""),
        "spi_out": child.get("spi-out", ""),
        "bytes_in": as_int(child.get("bytes-in")),
        "bytes_out": as_int(child.get("bytes-out")),
        "packets_in": as_int(child.get("packets-in")),
        "packets_out": as_int(child.get("packets-out")),
        "local_ts": child.get("local-ts", []),
        "remote_ts": child.get("remote-ts", []),
        "installed_seconds": as_int(child.get("install-time")),
        "rekey_in_seconds": as_int(child.get("rekey-time")),
    }


def ike_summary(name, ike):
    children = ike.get("child-sas", {})
    return {
        "name": name,
        "uniqueid": ike.get("uniqueid", ""),
        "state": ike.get("state", ""),
        "local_host": ike.get("local-host", ""),
        "remote_host": ike.get("remote-host", ""),
        "local_id": ike.get("local-id", ""),
        "remote_id": ike.get("remote-id", ""),
        "established_seconds": as_int(ike.get("established")),
        "rekey_in_seconds": as_int(ike.get("rekey-time")),
        "child_sas": [child_summary(child) for child in children.values() if isinstance(child, dict)],
    }


def list_sas(connection):
    """The IKE SAs of ``connection`` as dicts (an empty list when it has none)."""
    try:
        completed = subprocess.run(
            [SWANCTL, "--list-sas", "--ike", connection, "--pretty"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SwanctlError("swanctl failed: %s" % error)
    if completed.returncode != 0:
        # swanctl prints plugin loading noise on stderr; keep only the real complaint.
        lines = [line for line in completed.stderr.splitlines() if not line.startswith("plugin '")]
        raise SwanctlError("swanctl --list-sas failed (is the strongSwan service running?): %s" % " ".join(lines).strip())
    sas = []
    for message, body in parse_pretty(completed.stdout):
        if message != "list-sa event":
            continue
        for name, ike in body.items():
            if name == connection and isinstance(ike, dict):
                sas.append(ike_summary(name, ike))
    return sas


def evaluate(connection, children, sas):
    """(up, message) for the SAs of ``connection``."""
    established = [sa for sa in sas if sa["state"] == "ESTABLISHED"]
    if not sas:
        return False, "connection %s has no IKE SA" % connection
    if not established:
        return False, "IKE SA of %s is %s, not ESTABLISHED" % (connection, ", ".join(sorted(set(sa["state"] for sa in sas))))
    installed = [child for sa in established for child in sa["child_sas"] if child["state"] == "INSTALLED"]
    if not children:
        if not installed:
            return False, "IKE SA of %s is ESTABLISHED but no CHILD SA is INSTALLED" % connection
    else:
        missing = [name for name in children if not any(child["name"] == name for child in installed)]
        if missing:
            return False, "IKE SA of %s is ESTABLISHED but CHILD SA %s is not INSTALLED" % (connection, ", ".join(missing))
    return True, "%s is up: IKE SA ESTABLISHED, CHILD SA %s INSTALLED" % (
        connection, ", ".join(sorted(set(child["name"] for child in installed))))


def diagnose(unit):
    """(cause, evidence) from the newest known failure in the daemon's journal, or (None, None)."""
    try:
        completed = subprocess.run(
            [JOURNALCTL, "--unit", unit, "--lines", str(JOURNAL_LINES), "--output", "cat", "--no-pager", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    for line in reversed(completed.stdout.splitlines()):
        # The newest start of the daemon ends the search: older lines are about an earlier run.
        if line.startswith("Starting %s" % unit):
            break
        for pattern, cause in DIAGNOSES:
            if pattern.search(line):
                return cause, line.strip()
    return None, None


def initiate(connection, child):
    """Ask charon to initiate ``child`` of ``connection`` (it reuses an IKE SA being set up)."""
    try:
        subprocess.run(
            [SWANCTL, "--initiate", "--ike", connection, "--child", child, "--timeout", "15"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        pass


def status(connection, children, wait, unit, initiate_after=None):
    """Poll until ``connection`` is up or ``wait`` seconds have passed; return the result dict."""
    started = time.monotonic()
    deadline = started + wait
    initiated = False
    while True:
        try:
            sas = list_sas(connection)
            up, message = evaluate(connection, children, sas)
        except SwanctlError as error:
            sas, up, message = [], False, str(error)
        now = time.monotonic()
        if up or now >= deadline:
            break
        if initiate_after is not None and children and not initiated and now - started >= initiate_after:
            initiated = True
            initiate(connection, children[0])
            continue
        time.sleep(POLL_SECONDS)
    result = {
        "connection": connection, "up": up, "message": message, "ike_sas": sas, "cause": None, "evidence": None,
        "initiated": initiated, "seconds": round(time.monotonic() - started, 2),
    }
    if not up:
        result["cause"], result["evidence"] = diagnose(unit)
        if result["cause"]:
            result["message"] = "%s: %s (log: %s)" % (message, result["cause"], result["evidence"])
    result["report"] = report_lines(result)
    return result


def report_lines(result):
    """The result as text lines: the verdict, then one line per IKE SA and CHILD SA."""
    lines = [result["message"]]
    for sa in result["ike_sas"]:
        lines.append("IKE SA %s #%s %s, %s[%s] <-> %s[%s], established %ss ago" % (
            sa["name"], sa["uniqueid"], sa["state"], sa["local_host"], sa["local_id"], sa["remote_host"], sa["remote_id"],
            sa["established_seconds"]))
        for child in sa["child_sas"]:
            lines.append("CHILD SA %s #%s %s, SPI in %s out %s, in %d bytes / %d packets, out %d bytes / %d packets, %s <-> %s" % (
                child["name"], child["uniqueid"], child["state"], child["spi_in"], child["spi_out"],
                child["bytes_in"], child["packets_in"], child["bytes_out"], child["packets_out"],
                ",".join(child["local_ts"]), ",".join(child["remote_ts"])))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description="Report whether a swanctl connection is up, with its byte counters.")
    parser.add_argument("connection", help="connection name (section under connections in swanctl.conf)")
    parser.add_argument("--child", action="append", default=[], help="CHILD SA that must be INSTALLED (repeatable; default: any)")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the connection to come up")
    parser.add_argument("--initiate-after", type=float, help="initiate the first --child once if it is not up after this many seconds")
    parser.add_argument("--unit", default="strongswan.service", help="systemd unit of the IKE daemon (for the diagnosis)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = status(args.connection, args.child, args.wait, args.unit, args.initiate_after)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("\n  ".join(result["report"]))
    return 0 if result["up"] else 1


if __name__ == "__main__":
    sys.exit(main())
