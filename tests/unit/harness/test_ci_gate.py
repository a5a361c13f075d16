# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CI gate (harness/ci_gate.py): small inner pytest sessions, run in this process with pytester.

Each inner session loads only the gate (``-p harness.ci_gate``). The machine's own
prerequisites are replaced by an empty list, except where a test is about them.
"""

from __future__ import annotations

import pytest

from harness import ci_gate
from harness import prerequisites

pytest_plugins = ["pytester"]

TESTS_FAILED = pytest.ExitCode.TESTS_FAILED
USAGE_ERROR = pytest.ExitCode.USAGE_ERROR

SKIPS = {
    "pytest.skip in the test": """
        import pytest

        def test_one():
            pytest.skip("no frobnicator here")
    """,
    "skipif mark": """
        import pytest

        @pytest.mark.skipif(True, reason="no frobnicator here")
        def test_one():
            pass
    """,
    "pytest.skip in a fixture": """
        import pytest

        @pytest.fixture
        def frobnicator():
            pytest.skip("no frobnicator here")

        def test_one(frobnicator):
            pass
    """,
    "xfail mark": """
        import pytest

        @pytest.mark.xfail(reason="no frobnicator here")
        def test_one():
            assert False
    """,
    "pytest.xfail in the test": """
        import pytest

        def test_one():
            pytest.xfail("no frobnicator here")
    """,
}

PASSING = """
    def test_passes():
        pass
"""


@pytest.fixture(name="inner")
def fixture_inner(pytester, monkeypatch):
    """Run an inner session with the gate, on a machine that has every prerequisite; CI unset."""
    monkeypatch.setattr(prerequisites, "missing_prerequisites", lambda: [])
    monkeypatch.delenv("CI", raising=False)

    def run(**files):
        pytester.makepyfile(**files)
        result = pytester.runpytest("-p", "harness.ci_gate", "-p", "no:cacheprovider", "-rs")
        return result, "\n".join(result.outlines + result.errlines)

    return run


@pytest.mark.parametrize("source", SKIPS.values(), ids=list(SKIPS))
def test_under_ci_a_skip_fails_the_run_and_is_named_with_its_reason(inner, monkeypatch, source):
    monkeypatch.setenv("CI", "true")
    result, output = inner(test_frob=source, test_other=PASSING)
    assert result.ret == TESTS_FAILED, output
    assert "CI=true: 1 skipped test(s) fail the run" in output
    gate_section = output.split("CI=true: 1 skipped test(s) fail the run", 1)[1]
    kind = "XFAIL" if "xfail" in source else "SKIPPED"
    assert "%s test_frob.py::test_one: no frobnicator here" % kind in gate_section
    assert "test_other.py::test_passes" not in gate_section


@pytest.mark.parametrize("value", [None, "false", ""])
def test_outside_ci_a_skip_passes(inner, monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("CI", value)
    result, output = inner(test_frob=SKIPS["pytest.skip in the test"], test_other=PASSING)
    assert result.ret == pytest.ExitCode.OK, output
    result.assert_outcomes(passed=1, skipped=1)
    assert "CI=true" not in output


@pytest.mark.parametrize("entry", ["test_frob.py::test_one", "test_frob.py"])
def test_an_allowed_skip_passes_under_ci(inner, monkeypatch, entry):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(ci_gate.CI_SKIP_ALLOWED, entry, "cannot run on the CI machine, because ...")
    result, output = inner(test_frob=SKIPS["pytest.skip in the test"], test_other=PASSING)
    assert result.ret == pytest.ExitCode.OK, output
    result.assert_outcomes(passed=1, skipped=1)


def test_an_allow_list_entry_covers_only_what_it_names(inner, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(ci_gate.CI_SKIP_ALLOWED, "test_frob.py::test_on", "a name prefix, not the test")
    result, output = inner(test_frob=SKIPS["pytest.skip in the test"])
    assert result.ret == TESTS_FAILED, output
    assert "SKIPPED test_frob.py::test_one: " in output


@pytest.mark.parametrize("module_skip", [
    'pytest.skip("no frobnicator here", allow_module_level=True)',
    'pytest.importorskip("lz_no_such_module_frobnicator")',
])
def test_under_ci_a_module_skipped_at_collection_stops_before_any_test_runs(inner, monkeypatch, module_skip):
    monkeypatch.setenv("CI", "true")
    result, output = inner(test_frob="import pytest\n" + module_skip + "\n", test_other="def test_fails():\n    assert False\n")
    assert result.ret == USAGE_ERROR, output
    assert "CI=true and a test module cannot run here" in output
    assert "test_frob.py was skipped while collected: " in output
    assert "test_fails" not in output and " failed" not in output  # never ran


def test_under_ci_a_test_that_would_importorskip_a_missing_module_does_not_run(inner, monkeypatch):
    monkeypatch.setenv("CI", "true")
    source = """
        import pytest

        def test_one():
            pytest.importorskip("lz_no_such_module.frobnicator")
            assert False, "THE TEST RAN"
    """
    result, output = inner(test_frob=source)
    assert result.ret == USAGE_ERROR, output
    assert "Python module lz_no_such_module.frobnicator cannot be imported" in output
    assert "no tests ran" in output and "THE TEST RAN" not in output


def test_under_ci_a_missing_prerequisite_stops_the_session(pytester, monkeypatch, tmp_path):
    """The real check, on a PATH where no tool of the harness's lists (and no dpkg-query) is found."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", str(tmp_path))
    pytester.makepyfile(test_other="def test_fails():\n    assert False\n")
    result = pytester.runpytest("-p", "harness.ci_gate", "-p", "no:cacheprovider")
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == USAGE_ERROR, output
    assert "CI=true and scripts/setup.sh did not finish its work" in output
    for tool in prerequisites.tools_the_tests_need():
        assert "tool %s is not on PATH" % tool in output
    assert "dpkg-query is not on PATH" in output
    assert "test_fails" not in output  # the session never started


def test_the_prerequisites_name_the_harness_tools_once_each():
    tools = prerequisites.tools_the_tests_need()
    assert {"ip", "nft", "systemd-nspawn"} <= set(tools)
    assert len(tools) == len(set(tools))


def test_importorskip_names_are_read_from_the_test_files(tmp_path):
    test_file = tmp_path / "test_x.py"
    test_file.write_text('a = pytest.importorskip("matplotlib")\nb = importorskip( \'bindep.depends\' )\n'
                         'c = pytest.importorskip(name)  # not a literal: not read\n'
                         'd = \'pytest.importorskip("in_a_string")\'\n', encoding="utf-8")
    assert prerequisites.modules_imported_or_skipped([str(test_file)]) == ["bindep.depends", "matplotlib"]
    assert prerequisites.importable("json.decoder")
    assert not prerequisites.importable("lz_no_such_module.frobnicator")
