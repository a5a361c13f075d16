# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab/monitors.py: reading a monitor's access key id from the environment file the monitor role writes."""

from __future__ import annotations

from lab import monitors

# roles/monitor/templates/environment.j2's output: NAME=<value as a JSON string>.
ENVIRONMENT = """# Managed by Ansible (localzones.failover.monitor); local changes are overwritten.
# Environment of lz-failover-monitor.service (read by systemd as root).
AWS_ACCESS_KEY_ID="LZLABLZFAILOVERUTILITY2"
AWS_EC2_METADATA_DISABLED="true"
AWS_SECRET_ACCESS_KEY="testing"
"""


def test_the_access_key_id_is_read_from_the_roles_environment_file():
    assert monitors.environment_value(ENVIRONMENT, "AWS_ACCESS_KEY_ID") == "LZLABLZFAILOVERUTILITY2"
    assert monitors.environment_value(ENVIRONMENT, "AWS_EC2_METADATA_DISABLED") == "true"


def test_a_missing_variable_or_file_gives_none():
    assert monitors.environment_value(ENVIRONMENT, "HTTPS_PROXY") is None
    assert monitors.environment_value(None, "AWS_ACCESS_KEY_ID") is None
