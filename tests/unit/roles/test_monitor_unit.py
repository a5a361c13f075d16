# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor role's systemd unit (roles/monitor/templates/lz-failover-monitor.service.j2), rendered and parsed."""

from __future__ import annotations

import configparser
import os

import jinja2
import yaml
import pytest

from harness.paths import REPO_ROOT

TEMPLATES = os.path.join(REPO_ROOT, "roles", "monitor", "templates")
ROLE_VARS = {
    "monitor_user": "lz-failover-monitor",
    "monitor_group": "lz-failover-monitor",
    "__monitor_environment_file": "/etc/lz-failover-monitor/environment",
    "__monitor_executable": "/opt/lz-failover-monitor/venv/bin/lz-failover-monitor",
    "__monitor_config_file": "/etc/lz-failover-monitor/config.yml",
    "__monitor_state_dir": "/var/lib/lz-failover-monitor",
    "__monitor_extra_write_dir": "",
}


def rendered_unit(privileged):
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined)
    environment.filters["basename"] = os.path.basename
    text = environment.get_template("lz-failover-monitor.service.j2").render(__monitor_privileged=privileged, **ROLE_VARS)
    unit = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#",))
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(text)
    return unit


@pytest.mark.parametrize("privileged", [True, False])
def test_the_unit_keeps_restarting_after_a_burst_of_quick_exits(privileged):
    unit = rendered_unit(privileged)
    # 0 turns systemd's start rate limit off: without it, 5 quick exits in 10 s leave the unit failed for good.
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert "StartLimitIntervalSec" not in unit["Service"], "systemd ignores it in [Service] on current versions"
    assert unit["Service"]["Restart"] == "always"
    assert float(unit["Service"]["RestartSec"]) >= 1, "the retries are paced"


def validate_command(validate_online):
    """The monitor role's template validate command, as Ansible renders it from vars/main.yml."""
    with open(os.path.join(REPO_ROOT, "roles", "monitor", "vars", "main.yml"), encoding="utf-8") as handle:
        role_vars = yaml.safe_load(handle)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters["bool"] = bool
    return environment.from_string(role_vars["__monitor_validate_command"]).render(
        __monitor_executable="/opt/lz-failover-monitor/venv/bin/lz-failover-monitor",
        __monitor_environment_file="/etc/lz-failover-monitor/environment", monitor_validate_online=validate_online,
    )


def test_the_configuration_is_validated_offline_by_default_and_online_on_request():
    executable = "/opt/lz-failover-monitor/venv/bin/lz-failover-monitor"
    assert validate_command(False) == executable + " --check-config --config %s"
    assert validate_command(True) == (
        executable + " --check-config --online --environment-file /etc/lz-failover-monitor/environment --config %s"
    )


def test_the_environment_file_is_written_before_the_configuration_it_is_validated_with():
    with open(os.path.join(REPO_ROOT, "roles", "monitor", "tasks", "config.yml"), encoding="utf-8") as handle:
        names = [task["name"] for task in yaml.safe_load(handle)]
    assert names.index("Write the service environment") < names.index("Write the daemon configuration (checked with --check-config first)")
