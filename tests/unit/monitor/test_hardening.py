# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values and files the daemon refuses because they would hurt it: too fast a cadence,
a configuration others can change, a metrics endpoint open beyond the host."""

from __future__ import annotations

import dataclasses
import os
import stat

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import MINIMUMS
from lz_failover_monitor.config import load_config
from lz_failover_monitor.config import ownership_problem
from lz_failover_monitor.config import validate_document
from lz_failover_monitor.daemon import Monitor
from lz_failover_monitor.state_file import MAX_STATE_BYTES
from lz_failover_monitor.state_file import PersistedState
from lz_failover_monitor.state_file import StateFileError
from lz_failover_monitor.state_file import load_state
from lz_failover_monitor.state_file import save_state
from tests.support.monitor_configs import FULL_YAML
from tests.support.monitor_configs import document
from tests.support.monitor_doubles import RecordingLog


def problems_of(config_document):
    with pytest.raises(ValidationError) as caught:
        validate_document(config_document)
    return caught.value.problems


# --------------------------------------------------------------------------- cadence bounds


@pytest.mark.parametrize("section, changes, expected", [
    ("probe", {"interval": 1e-6, "timeout": 1e-6}, "probe.interval: must be >= 0.02 s, got 1e-06"),
    ("probe", {"interval": 0.019, "timeout": 0.01}, "probe.interval: must be >= 0.02 s, got 0.019"),
    ("probe", {"interval": 0.1, "timeout": 0.005}, "probe.timeout: must be >= 0.01 s, got 0.005"),
    ("vpn_check", {"interval": 0.05, "timeout": 0.05}, "vpn_check.interval: must be >= 0.1 s, got 0.05"),
    ("vpn_check", {"interval": 1.0, "timeout": 0.001}, "vpn_check.timeout: must be >= 0.01 s, got 0.001"),
])
def test_a_cadence_below_its_bound_is_refused_naming_the_key_and_the_bound(section, changes, expected):
    base = document()
    section_values = dict(base.get(section) or {}, **changes)
    assert expected in problems_of(document(**{section: section_values}))


def test_the_bounds_keep_the_defaults_and_the_fastest_benchmarked_cadence_valid():
    assert validate_document(document()).probe.interval == 0.1
    fast = validate_document(document(probe={"targets": ["198.19.0.10"], "interval": 0.05, "timeout": 0.05}))
    assert (fast.probe.interval, fast.probe.timeout) == (0.05, 0.05)
    at_bounds = validate_document(document(
        probe={"targets": ["198.19.0.10"], "interval": MINIMUMS["probe.interval"], "timeout": MINIMUMS["probe.timeout"]},
        vpn_check={"interval": MINIMUMS["vpn_check.interval"], "timeout": MINIMUMS["vpn_check.timeout"]},
    ))
    assert at_bounds.vpn_check.interval == 0.1


# --------------------------------------------------------------------------- the configuration file's owner and mode


def write(tmp_path, mode):
    path = tmp_path / "config.yml"
    path.write_text(FULL_YAML)
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize("mode, who", [(0o660, "group"), (0o606, "others"), (0o666, "group and others")])
def test_a_configuration_writable_by_group_or_others_is_refused_naming_the_mode(tmp_path, mode, who):
    path = write(tmp_path, mode)
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert caught.value.problems == [
        "%s: the configuration is writable by %s (mode %04o); make it 0600 or 0640 (chmod go-w)" % (path, who, mode)
    ]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o400])
def test_the_modes_the_role_installs_are_accepted(tmp_path, mode):
    assert load_config(write(tmp_path, mode)).region == "us-east-1"


def regular_file_status(uid, mode):
    """An os.stat result of a regular file with ``uid`` and ``mode`` (a file of another owner needs no root to test)."""
    fields = [stat.S_IFREG | mode, 0, 0, 1, uid, 0, 100, 0, 0, 0]
    return os.stat_result(fields)


def test_a_configuration_owned_by_another_user_is_refused_and_root_or_the_own_user_is_not():
    assert ownership_problem("/c.yml", regular_file_status(1234, 0o640), euid=999) == (
        "/c.yml: the configuration is owned by uid 1234 (mode 0640), neither root nor this process's user (uid 999)"
    )
    assert ownership_problem("/c.yml", regular_file_status(999, 0o600), euid=999) is None
    assert ownership_problem("/c.yml", regular_file_status(0, 0o640), euid=999) is None


def test_a_configuration_that_is_not_a_regular_file_is_refused(tmp_path):
    assert ownership_problem("/c", os.stat(tmp_path)) == "/c: the configuration must be a regular file"


def test_a_fifo_at_the_configuration_path_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.yml"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(ValidationError) as caught:
        load_config(str(fifo))
    assert caught.value.problems == ["%s: the configuration must be a regular file" % fifo]


# --------------------------------------------------------------------------- metrics endpoint


@pytest.mark.parametrize("address", ["0.0.0.0", "10.0.0.5", "::"])
def test_a_metrics_address_beyond_loopback_needs_allow_remote(address):
    problems = problems_of(document(metrics={"address": address}))
    assert problems == [
        "metrics.address: %s is not a loopback address; the metrics endpoint has no authentication, so set "
        "metrics.allow_remote: true to serve it beyond this host (and restrict who reaches the port)" % address
    ]
    allowed = validate_document(document(metrics={"address": address, "allow_remote": True}))
    assert (allowed.metrics.address, allowed.metrics.allow_remote) == (address, True)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1"])
def test_loopback_metrics_addresses_need_nothing(address):
    config = validate_document(document(metrics={"address": address}))
    assert (config.metrics.address, config.metrics.allow_remote) == (address, False)


# --------------------------------------------------------------------------- the state file


STATE = PersistedState(desired_path="vpn", failover_history=(1700000000.0,))


def test_a_symbolic_link_at_the_state_path_is_not_followed_on_read(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    save_state(str(elsewhere), STATE, 1.0)
    link = tmp_path / "state.json"
    link.symlink_to(elsewhere)
    with pytest.raises(StateFileError, match="it is a symbolic link; the state file must be a regular file"):
        load_state(str(link))


def test_saving_replaces_a_planted_symbolic_link_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "state.json"
    link.symlink_to(victim)
    save_state(str(link), STATE, 1.0)
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink() and load_state(str(link)) == STATE


def test_a_state_path_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)
    with pytest.raises(StateFileError, match="it is not a regular file"):
        load_state(str(fifo))


def test_a_state_file_above_the_size_bound_is_refused_unread(tmp_path):
    path = tmp_path / "state.json"
    save_state(str(path), STATE, 1.0)
    with open(path, "ab") as handle:
        handle.truncate(MAX_STATE_BYTES + 1)
    with pytest.raises(StateFileError, match="it holds %d bytes, more than the %d a state file may hold; not read" % (MAX_STATE_BYTES + 1, MAX_STATE_BYTES)):
        load_state(str(path))


def test_the_daemon_logs_a_refused_state_file_once_and_starts_without_it(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b" " * (MAX_STATE_BYTES + 1))
    config = dataclasses.replace(validate_document(document()), state_file=str(path))
    log = RecordingLog()
    monitor = Monitor(config, "/nonexistent/config.yml", log)
    assert monitor._load_persisted_state() == PersistedState()  # pylint: disable=protected-access
    ignored = log.named("state_file_ignored")
    assert len(ignored) == 1 and ignored[0]["path"] == str(path) and "more than the 1048576 a state file may hold" in ignored[0]["reason"]
