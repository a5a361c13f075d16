# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The persisted state: atomic round trip, corruption handling, clock conversion, the writer thread."""

from __future__ import annotations

import json
import os
import stat

import pytest

from lz_failover_monitor import state_file
from lz_failover_monitor.state_file import PersistedState
from lz_failover_monitor.state_file import StateFileError
from lz_failover_monitor.state_file import StateWriter
from lz_failover_monitor.state_file import Transition
from lz_failover_monitor.state_file import load_state
from lz_failover_monitor.state_file import monotonic_to_wall
from lz_failover_monitor.state_file import save_state
from lz_failover_monitor.state_file import wall_to_monotonic

STATE = PersistedState(
    desired_path="vpn",
    last_transition=Transition("dx", "vpn", "hard_failure", 1700000100.5),
    failover_history=(1700000000.0, 1700000100.5),
)


def test_round_trip_is_exact_and_private(tmp_path):
    path = str(tmp_path / "sub" / "state.json")
    save_state(path, STATE, saved_at=1700000101.0)
    assert load_state(path) == STATE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path / "sub") == ["state.json"], "no temporary file is left behind"
    assert json.loads((tmp_path / "sub" / "state.json").read_text())["saved_at"] == 1700000101.0


def test_saving_replaces_the_previous_state(tmp_path):
    path = str(tmp_path / "state.json")
    save_state(path, STATE, 1.0)
    save_state(path, PersistedState(desired_path="dx"), 2.0)
    assert load_state(path) == PersistedState(desired_path="dx")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = str(tmp_path / "state.json")
    save_state(path, STATE, 1.0)

    def refuse(_source, _destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_file.os, "replace", refuse)
    with pytest.raises(OSError):
        save_state(path, PersistedState(desired_path="dx"), 2.0)
    assert os.listdir(tmp_path) == ["state.json"]
    assert load_state(path) == STATE


def test_no_file_is_not_an_error(tmp_path):
    assert load_state(str(tmp_path / "absent.json")) is None


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"version": 99}', "unknown format version 99"),
        ('{"version": 1, "desired_path": "sideways"}', "desired_path must be one of dx, vpn"),
        ('{"version": 1, "failover_history": "yesterday"}', "failover_history must be a list"),
        ('{"version": 1, "failover_history": [true]}', "failover_history[] must be a number"),
        ('{"version": 1, "last_transition": {"from": "dx", "to": "vpn", "reason": "x", "at": "noon"}}', "last_transition.at must be a number"),
        ('{"version": 1, "last_transition": {"from": "dx", "to": "moon", "reason": "x", "at": 1}}', "last_transition.to must be one of dx, vpn"),
        ("\xff\xfe", "cannot read it"),  # not UTF-8: a half-written or foreign file
    ],
)
def test_a_corrupt_file_raises_a_state_file_error(tmp_path, content, reason):
    path = tmp_path / "state.json"
    path.write_text(content, encoding="latin-1")
    with pytest.raises(StateFileError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        load_state(str(path))


def test_an_unreadable_file_raises_a_state_file_error(tmp_path):
    directory = tmp_path / "state.json"
    directory.mkdir()  # a directory is refused before any read
    with pytest.raises(StateFileError, match="it is not a regular file"):
        load_state(str(directory))


def test_wall_clock_times_become_monotonic_ones_and_back():
    wall_now, monotonic_now = 1700001000.0, 5000.0
    as_monotonic = wall_to_monotonic((1700000000.0, 1700000900.0), wall_now, monotonic_now)
    assert as_monotonic == (4000.0, 4900.0)
    assert monotonic_to_wall(as_monotonic, wall_now, monotonic_now) == (1700000000.0, 1700000900.0)


def test_times_from_the_future_are_clamped_to_now():
    # The wall clock stepped back after the file was written: those failovers happened "now" at the latest.
    assert wall_to_monotonic((1700002000.0,), 1700001000.0, 5000.0) == (5000.0,)


def test_writer_writes_the_latest_state_and_flushes_on_close(tmp_path):
    path = str(tmp_path / "state.json")
    errors = []
    writer = StateWriter(path, clock=lambda: 42.0, on_error=lambda *args: errors.append(args))
    writer.submit(PersistedState(desired_path="dx"))
    writer.submit(STATE)
    writer.close()
    assert load_state(path) == STATE
    assert 1 <= writer.writes <= 2 and errors == []


def test_writer_reports_a_failed_write_and_keeps_going(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    errors = []
    writer = StateWriter(str(blocker / "state.json"), clock=lambda: 1.0, on_error=lambda path, exc: errors.append(path))
    writer.submit(STATE)
    writer.close()
    assert errors == [str(blocker / "state.json")] and writer.writes == 0
