# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/ci_under_load.py: what it reads from a CI log, and a series against a repository whose CI is a script."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from benchmarks import ci_under_load as bench

PASSED_LOG = """\
==> [1/3] setup  (02:00:00 UTC)
<== setup ok in 100s
==> [2/3] pytest  (02:01:40 UTC)
1.00s call     tests/unit/test_x.py::test_y
====================== 1464 passed in 1694.90s (0:28:14) =======================
<== pytest ok in 1706s
==> [3/3] molecule  (02:30:06 UTC)
====================== 567 passed in 23.46s ======================
<== molecule ok in 564s
all stages passed
"""

FAILED_LOG = """\
<== setup ok in 90s
==> [2/3] pytest  (02:01:30 UTC)
=========== 1 failed, 1463 passed, 2 warnings in 1700.12s (0:28:20) ============
<== pytest FAILED (exit 1) after 1712s
FAILED at stage: pytest
"""

# The fake repository's CI: it says what it saw, then passes or fails as the counter file outside the clones says.
FAKE_CI = """\
#!/usr/bin/env bash
count=$(( $(cat "$FAKE_CI_COUNTER" 2>/dev/null || echo 0) + 1 ))
echo "$count" >"$FAKE_CI_COUNTER"
echo "CI=$CI VIRTUAL_ENV=${VIRTUAL_ENV:-unset} commit=$(git rev-parse HEAD)"
echo "<== setup ok in 1s"
echo "==> [2/2] pytest  (00:00:01 UTC)"
if [[ $count -ge $FAKE_CI_FAIL_AT ]]; then
  echo "<== pytest FAILED (exit 1) after 2s"
  exit 1
fi
echo "====================== 3 passed in 0.01s ======================="
echo "<== pytest ok in 2s"
"""


def test_a_passed_log_gives_every_stage_and_the_counts_of_the_pytest_stage_only():
    parsed = bench.parse_ci_log(PASSED_LOG.splitlines(True))

    assert parsed == {"stages": {"setup": 100, "pytest": 1706, "molecule": 564}, "failed_stage": None, "pytest": "1464 passed"}


def test_a_failed_log_names_the_stage_its_exit_status_and_the_failures():
    parsed = bench.parse_ci_log(FAILED_LOG.splitlines(True))

    assert parsed["stages"] == {"setup": 90, "pytest": 1712}
    assert parsed["failed_stage"] == {"stage": "pytest", "rc": 1}
    assert parsed["pytest"] == "1 failed, 1463 passed, 2 warnings"


def run(number, passed, seconds):
    return {"run": number, "passed": passed, "rc": 0 if passed else 1, "seconds": seconds, "pytest": None,
            "stages": {"setup": 1, "pytest": seconds - 1} if passed else {"setup": 1},
            "failed_stage": None if passed else {"stage": "pytest", "rc": 1}}


def test_passes_in_a_row_count_from_the_first_run_and_stop_at_a_failure():
    assert bench.series_summary([run(1, True, 10), run(2, True, 20), run(3, False, 5)]) == {
        "runs": 3, "passed_in_a_row": 2, "all_passed": False, "total_s": {"min": 10, "mean": 15, "max": 20}}
    assert bench.series_summary([run(1, False, 5)]) == {"runs": 1, "passed_in_a_row": 0, "all_passed": False}
    assert bench.series_summary([]) == {"runs": 0, "passed_in_a_row": 0, "all_passed": False}


def test_the_table_has_a_column_per_stage_and_marks_a_missing_one():
    rows = bench.table_rows([run(1, True, 10), run(2, False, 5)])

    assert rows[0] == "| Run | Result | Total | setup | pytest | pytest counts |"
    assert rows[2] == "| 1 | passed | 10 s | 1 | 9 | - |"
    assert rows[3] == "| 2 | FAILED (pytest) | 5 s | 1 | - | - |"


@pytest.fixture(name="fake_repo")
def fixture_fake_repo(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    (repo / ".ci" / "run").write_text(FAKE_CI, encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "fake CI"], check=True)
    monkeypatch.setenv("FAKE_CI_COUNTER", str(tmp_path / "counter"))
    monkeypatch.setenv("VIRTUAL_ENV", "/the/caller/venv")
    return str(repo)


def test_a_series_runs_fresh_clones_with_ci_true_and_stops_at_the_first_failure(fake_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CI_FAIL_AT", "3")
    commit = bench.resolve_commit(fake_repo, "HEAD")
    workdir = tmp_path / "work"
    workdir.mkdir()
    seen_hogs = []
    original_start_hogs = bench.start_hogs

    def start_hogs(count):
        seen_hogs.extend(original_start_hogs(count))
        return seen_hogs

    monkeypatch.setattr(bench, "start_hogs", start_hogs)

    runs = bench.run_series(fake_repo, commit, 5, 1, str(workdir), str(tmp_path / "ci"))

    assert [(each["run"], each["passed"], each["rc"]) for each in runs] == [(1, True, 0), (2, True, 0), (3, False, 1)]
    assert runs[0]["stages"] == {"setup": 1, "pytest": 2} and runs[0]["pytest"] == "3 passed"
    assert runs[2]["failed_stage"] == {"stage": "pytest", "rc": 1}
    first_log = (tmp_path / "ci-run-1.log").read_text(encoding="utf-8")
    assert "CI=true VIRTUAL_ENV=unset commit=%s" % commit in first_log
    # Passed clones are gone, the failed one is kept; the hog ran throughout and was ended.
    assert sorted(os.listdir(workdir)) == ["run-3"] and runs[2]["clone"] == str(workdir / "run-3")
    assert all(each["hogs_running_at_end"] == [True] for each in runs)
    assert len(seen_hogs) == 1 and seen_hogs[0].poll() is not None


def test_main_writes_the_series_and_exits_3_when_a_run_failed(fake_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_CI_FAIL_AT", "2")
    monkeypatch.setattr(bench.os, "geteuid", lambda: 0)
    output = tmp_path / "results" / "series.json"

    exit_code = bench.main(["--repo", fake_repo, "--runs", "4", "--hogs", "0", "--workdir", str(tmp_path / "work"), "--output", str(output)])

    assert exit_code == bench.EXIT_RUN_FAILED
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["commit"] == bench.resolve_commit(fake_repo, "HEAD")
    assert document["summary"] == {"runs": 2, "passed_in_a_row": 1, "all_passed": False, "total_s": document["summary"]["total_s"]}
    printed = capsys.readouterr().out
    assert "| 2 | FAILED (pytest) |" in printed and "1 of 4 run(s) passed in a row" in printed


def test_main_refuses_an_unknown_commit_before_starting_anything(fake_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench.os, "geteuid", lambda: 0)

    exit_code = bench.main(["--repo", fake_repo, "--commit", "no-such-ref", "--workdir", str(tmp_path / "work")])

    assert exit_code == bench.EXIT_SETUP
    assert "no-such-ref is not a commit" in capsys.readouterr().err
    assert not (tmp_path / "work").exists() and not (tmp_path / "counter").exists()
