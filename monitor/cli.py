# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line: ``lz-failover-monitor --config PATH [--check-config [--online]]``.

Without ``--check-config`` the daemon runs in the foreground (systemd's way) until
SIGTERM; logs are JSON lines on stdout. ``--online`` adds to the offline check the
read-only check against AWS a reload makes (``online_check.py``). Exit codes: 0
stopped cleanly or the configuration is valid (with ``--online``: and AWS shows it can
act), 1 invalid configuration (with ``--online``: or AWS shows it cannot act) or
start-up failure, 2 bad usage, 3 ``--online`` could not ask AWS (no route to the API,
no credentials, an API error): nothing is known about the configuration's resources.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .aws import ec2_client
from .config import load_config
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from .daemon import EXIT_FAILED
from .daemon import EXIT_OK
from .daemon import run_daemon
from .logs import EventLog
from .logs import LogSetup
from .metrics import Metrics
from .online_check import online_check

EXIT_UNCHECKED = 3

DEFAULT_CONFIG = "/etc/lz-failover-monitor/config.yml"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="lz-failover-monitor",
        description="Keeps AWS Local Zone route tables on the healthy path between Direct Connect and a VPN appliance.",
    )
    parser.add_argument("--config", metavar="PATH", default=DEFAULT_CONFIG, help="YAML configuration file (default: %(default)s)")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration, print every problem with its key path, and exit")
    parser.add_argument(
        "--online", action="store_true",
        help="with --check-config: also check against AWS (read-only) that the route tables, interface and prefix list exist and fit together",
    )
    parser.add_argument(
        "--environment-file", metavar="PATH",
        help="with --check-config --online: read NAME=VALUE lines (the service's EnvironmentFile) into the environment first, "
             "so the check reaches AWS as the daemon does (proxy, endpoint credentials); a missing file is ignored",
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    arguments = parser.parse_args(argv)
    if arguments.online and not arguments.check_config:
        parser.error("--online needs --check-config")
    if arguments.environment_file and not arguments.online:
        parser.error("--environment-file needs --check-config --online")
    return arguments


def read_environment_file(path):
    """``{name: value}`` of a systemd EnvironmentFile as the monitor role writes it (values JSON-quoted); {} when missing.

    The variables come from a file, not the command line, so no secret shows in a process
    listing or in Ansible's verbose output of the validate command.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return {}
    variables = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        name, _sep, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        variables[name.strip()] = value
    return variables


def _write_problems(err, path, problems, where=""):
    err.write("%s: %d problem(s)%s:\n" % (path, len(problems), where))
    for problem in problems:
        err.write("  %s\n" % problem)


def check_config(path, out=None, err=None, online=False):
    """Print every problem (exit 1) or a short summary (exit 0); ``online``: ask AWS too (exit 3 when it cannot be asked)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(path)
    except ValidationError as exc:
        _write_problems(err, path, exc.problems)
        return EXIT_FAILED
    if online:
        try:
            result = online_check(config, ec2_client(config, Metrics()))
        except AwsApiError as exc:
            err.write("%s: the configuration is valid but could not be checked against AWS: %s %s: %s\n" % (path, exc.operation, exc.code, exc.message))
            return EXIT_UNCHECKED
        if result.problems:
            _write_problems(err, path, result.problems, " in AWS")
            return EXIT_FAILED
        for warning in result.warnings:
            err.write("%s: warning: %s\n" % (path, warning))
    out.write("%s: configuration is valid%s\n" % (path, " and AWS shows it can act" if online else ""))
    for line in config.summary():
        out.write("  %s\n" % line)
    return EXIT_OK


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.check_config:
        if arguments.environment_file:
            os.environ.update(read_environment_file(arguments.environment_file))
        return check_config(arguments.config, online=arguments.online)
    log_setup = LogSetup()
    try:
        return run_daemon(arguments.config, EventLog(), log_setup)
    finally:
        log_setup.close()
