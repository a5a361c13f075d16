# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml's own checks, before anything changes: the VPN's pre-shared key and the
connection choice, every problem named at once, and the key never in the output."""

from __future__ import annotations

import json

import pytest

from harness.provision import run_playbook
from harness.provision import run_playbook_plainly

# Nothing listens here: a play that got past the checks would fail differently.
UNREACHABLE = {"endpoint_url": "http://127.0.0.1:9", "access_key": "testing", "secret_key": "testing"}
GOOD_PSK = "a-pre-shared-key-of-32-characters"


def site_variables(**variables):
    settings = {"lz_failover_region": "us-east-1", "lz_failover_aws": UNREACHABLE, "lz_failover_vpn_psk": GOOD_PSK, **variables}
    return {name: value for name, value in settings.items() if value is not None}


def run_site(**variables):
    return run_playbook("../site.yml", site_variables(**variables))


@pytest.mark.parametrize("settings, problems", [
    pytest.param({"lz_failover_vpn_psk": None}, ["The VPN pre-shared key (lz_failover_vpn_psk) is missing."], id="no-psk"),
    pytest.param({"lz_failover_vpn_psk": "short-key-19-chars!"}, ["The VPN pre-shared key (lz_failover_vpn_psk) is shorter than 20 characters."],
                 id="short-psk"),
    pytest.param({"lz_failover_connection": "telnet"}, ["lz_failover_connection must be ssh or ssm."], id="unknown-connection"),
    pytest.param({"lz_failover_connection": "ssm", "lz_failover_vpn_psk": "tiny", "vpn_appliance_launch": True},
                 ["shorter than 20 characters", "needs lz_failover_ssm_bucket_name", "needs utility_instance_access.ssm true",
                  "needs failover_iam_session_manager true", "needs vpn_appliance_instance_profile"],
                 id="ssm-without-its-prerequisites-and-a-short-key"),
])
def test_a_bad_setting_is_named_before_any_change_and_the_key_never_shows(settings, problems):
    run = run_site(**settings)
    assert run.returncode != 0
    assert run.failure and all(problem in run.failure for problem in problems), run.failure
    # The first play stopped the run: nothing reached AWS or a host.
    assert [play["play"]["name"] for play in run.output["plays"]] == ["Check the settings of the hosts' roles before the first change"]
    psk = settings.get("lz_failover_vpn_psk")
    if psk:
        assert psk not in json.dumps(run.output) + run.stderr


def test_good_settings_pass_the_checks_and_the_key_never_shows():
    run = run_site(lz_failover_connection="ssm", lz_failover_ssm_bucket_name="transfers", utility_instance_access={"ssh_cidrs": [], "ssm": True},
                   failover_iam_session_manager=True)
    # Past the checks, provision.yml is the first to fail: nothing answers on the endpoint.
    assert "Check the settings of the hosts' roles before the first change" in [play["play"]["name"] for play in run.output["plays"]]
    assert len(run.output["plays"]) > 1, run.failure
    assert GOOD_PSK not in json.dumps(run.output) + run.stderr


def test_the_key_never_shows_at_the_highest_verbosity():
    short_key = "short-secret-19char"
    completed = run_playbook_plainly("../site.yml", site_variables(lz_failover_vpn_psk=short_key), "-vvvv",
                                     environment={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    assert completed.returncode != 0
    assert "shorter than 20 characters" in completed.stdout
    assert short_key not in completed.stdout + completed.stderr
