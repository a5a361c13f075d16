# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's wheel holds the packages the daemon imports, and no others.

The modules the daemon needs are found by following its imports (read from the source,
not run) from monitor/*.py into plugins/module_utils, transitively. pyproject.toml lists
exactly those core modules, and a wheel built from it holds exactly them (with their
packages' __init__.py) and the daemon. Module-side helpers (the Ansible error idiom, the
route watch, Direct Connect) and the drill analysis (reports, plots) stay out.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from harness.imports import imported_names
from harness.paths import REPO_ROOT

tomllib = pytest.importorskip("tomllib")

CORE = "ansible_collections.localzones.failover.plugins.module_utils"
CORE_DIR = os.path.join(REPO_ROOT, "plugins", "module_utils")
DAEMON = "lz_failover_monitor"


def core_file(dotted):
    """The file of a core module or package given by its dotted name, or None when it is neither."""
    if dotted != CORE and not dotted.startswith(CORE + "."):
        return None
    base = os.path.join(CORE_DIR, *dotted[len(CORE) + 1:].split(".")) if dotted != CORE else CORE_DIR
    for candidate in (os.path.join(base, "__init__.py"), base + ".py"):
        if os.path.isfile(candidate):
            return candidate
    return None


def dotted_name(path):
    """The dotted name of a core file (a package for ``__init__.py``)."""
    relative = os.path.relpath(path, CORE_DIR)[:-len(".py")].split(os.sep)
    if relative[-1] == "__init__":
        relative = relative[:-1]
    return ".".join([CORE] + relative)


def package_of(path):
    return dotted_name(path) if path.endswith("__init__.py") else dotted_name(path).rsplit(".", 1)[0]


def with_parents(dotted):
    """A module and the packages Python imports before it, within the core."""
    parts = dotted.split(".")
    return [".".join(parts[:count]) for count in range(len(CORE.split(".")), len(parts) + 1)]


def core_files_the_daemon_imports():
    pending = []
    for path in glob.glob(os.path.join(REPO_ROOT, "monitor", "*.py")):
        pending += imported_names(path, DAEMON)
    seen = set()
    while pending:
        dotted = pending.pop()
        for name in with_parents(dotted) if dotted.startswith(CORE) else []:
            path = core_file(name)
            if path is None or path in seen:
                continue
            seen.add(path)
            pending += imported_names(path, package_of(path))
    return seen


def listed_core_modules():
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as handle:
        setuptools_table = tomllib.load(handle)["tool"]["setuptools"]
    assert setuptools_table["packages"] == [DAEMON], "the core ships module by module, through py-modules"
    return setuptools_table["py-modules"]


def modules_the_daemon_needs():
    return {dotted_name(path) for path in core_files_the_daemon_imports() if not path.endswith("__init__.py")}


def built_wheel_files(tmp_path):
    """The .py files of a wheel built from a copy of the sources (so the checkout gets no build/ tree)."""
    source = tmp_path / "source"
    shutil.copytree(os.path.join(REPO_ROOT, "monitor"), source / "monitor")
    shutil.copytree(CORE_DIR, source / "plugins" / "module_utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(REPO_ROOT, "pyproject.toml"), source)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(tmp_path / "wheel"), str(source)],
        check=True, timeout=300,
    )
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if name.endswith(".py")}


def test_the_daemon_imports_the_core_and_not_the_drill():
    files = {os.path.relpath(path, CORE_DIR) for path in core_files_the_daemon_imports()}
    assert "errors.py" in files and os.path.join("drill", "__init__.py") not in files
    assert not any(path.startswith("drill") for path in files)


def test_pyproject_lists_exactly_the_core_modules_the_daemon_imports():
    assert sorted(listed_core_modules()) == sorted(modules_the_daemon_needs())


def test_the_built_wheel_holds_the_daemon_and_exactly_the_core_files_it_imports(tmp_path):
    core_prefix = CORE.replace(".", "/") + "/"
    shipped = built_wheel_files(tmp_path)
    shipped_core = {name[len(core_prefix):] for name in shipped if name.startswith(core_prefix)}
    needed_core = {os.path.relpath(path, CORE_DIR).replace(os.sep, "/") for path in core_files_the_daemon_imports()}
    assert shipped_core == needed_core
    daemon_files = {name for name in os.listdir(os.path.join(REPO_ROOT, "monitor")) if name.endswith(".py")}
    assert {name for name in shipped if name.startswith(DAEMON + "/")} == {DAEMON + "/" + name for name in daemon_files}
    assert not shipped - {core_prefix + name for name in needed_core} - {DAEMON + "/" + name for name in daemon_files}
