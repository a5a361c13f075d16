# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""harness.bench: the results files (default name from the start time, explicit path kept, JSON as written) and argument types."""

from __future__ import annotations

import argparse
import datetime

import pytest

from harness import bench

STARTED = 1796415515.75  # 2026-12-04T20:18:35.75Z


def test_default_path_is_named_by_the_utc_start_and_its_directory_made(tmp_path, monkeypatch):
    results = tmp_path / "benchmarks" / "results"
    monkeypatch.setattr(bench, "RESULTS_DIR", str(results))

    path = bench.results_path("lab-pair", STARTED)

    assert path == str(results / "lab-pair-20261204T201835Z.json")
    assert results.is_dir()


def test_explicit_output_is_kept_and_its_directory_made(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RESULTS_DIR", str(tmp_path / "unused"))
    output = str(tmp_path / "elsewhere" / "run.json")

    assert bench.results_path("monitor", STARTED, output) == output
    assert (tmp_path / "elsewhere").is_dir()
    assert not (tmp_path / "unused").exists()


def test_bare_file_name_needs_no_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert bench.results_path("detection", STARTED, "run.json") == "run.json"


def test_results_are_written_with_the_callers_dump_options_and_ending(tmp_path):
    path = tmp_path / "run.json"
    moment = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)

    bench.write_results(str(path), {"b": 1, "a": [2]}, indent=2)
    assert path.read_text(encoding="utf-8") == '{\n  "b": 1,\n  "a": [\n    2\n  ]\n}\n'

    bench.write_results(str(path), {"at": moment}, end="", indent=1, default=str)
    assert path.read_text(encoding="utf-8") == '{\n "at": "2026-12-04 00:00:00+00:00"\n}'


def test_argument_types_convert_and_refuse_with_the_requirement():
    assert bench.positive(int)("3") == 3 and bench.non_negative(float)("0") == 0.0

    for convert, text, message in ((bench.positive(float), "0", "must be > 0, got 0"), (bench.non_negative(int), "-1", "must be >= 0, got -1")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            convert(text)
    with pytest.raises(ValueError):
        bench.non_negative(int)("1.5")
