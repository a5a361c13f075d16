# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line: ``lz-failover-monitor --config PATH [--check-config]``.

Without ``--check-config`` the daemon runs in the foreground (systemd's way) until
SIGTERM; logs are JSON lines on stdout. Exit codes: 0 stopped cleanly or the
configuration is valid, 1 invalid configuration or start-up failure, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .config import load_config
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from .daemon import EXIT_FAILED
from .daemon import EXIT_OK
from .daemon import run_daemon
from .logs import EventLog
from .logs import LogSetup

DEFAULT_CONFIG = "/etc/lz-failover-monitor/config.yml"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="lz-failover-monitor",
        description="Keeps AWS Local Zone route tables on the healthy path between Direct Connect and a VPN appliance.",
    )
    parser.add_argument("--config", metavar="PATH", default=DEFAULT_CONFIG, help="YAML configuration file (default: %(default)s)")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration, print every problem with its key path, and exit")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    return parser.parse_args(argv)


def check_config(path, out=None, err=None):
    """Print every problem (exit 1) or a short summary (exit 0)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(path)
    except ValidationError as exc:
        err.write("%s: %d problem(s):\n" % (path, len(exc.problems)))
        for problem in exc.problems:
            err.write("  %s\n" % problem)
        return EXIT_FAILED
    out.write("%s: configuration is valid\n" % path)
    for line in config.summary():
        out.write("  %s\n" % line)
    return EXIT_OK


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.check_config:
        return check_config(arguments.config)
    log_setup = LogSetup()
    try:
        return run_daemon(arguments.config, EventLog(), log_setup)
    finally:
        log_setup.close()
