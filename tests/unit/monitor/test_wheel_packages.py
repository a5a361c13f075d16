# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's wheel holds the packages the daemon imports, and no others.

The modules the daemon needs are found by following its imports (read from the source,
not run) from monitor/*.py into plugins/module_utils, transitively; their packages must
be exactly the core packages pyproject.toml lists. The drill analysis (reports, plots)
is for the controller and must stay out.
"""

from __future__ import annotations

import ast
import glob
import os

import pytest

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


def imported_names(path, package):
    """Every dotted name an import in ``path`` may load: ``a.b`` for ``import a.b``, ``a`` and ``a.c`` for ``from a import c``."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = anchor + ("." + node.module if node.module else "")
            names.append(base)
            names += [base + "." + alias.name for alias in node.names]
    return names


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


def wheel_packages():
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)["tool"]["setuptools"]["packages"]


def test_the_daemon_imports_the_core_and_not_the_drill():
    files = {os.path.relpath(path, CORE_DIR) for path in core_files_the_daemon_imports()}
    assert "errors.py" in files and os.path.join("drill", "__init__.py") not in files
    assert not any(path.startswith("drill") for path in files)


def test_the_wheel_lists_exactly_the_packages_the_daemon_imports():
    needed = {package_of(path) for path in core_files_the_daemon_imports()}
    assert sorted(wheel_packages()) == sorted(needed | {DAEMON})


def test_no_drill_code_in_the_packages_the_wheel_ships():
    shipped = [package for package in wheel_packages() if package.startswith(CORE)]
    files = []
    for package in shipped:
        directory = os.path.dirname(core_file(package))
        files += [name for name in os.listdir(directory) if name.endswith(".py")]  # subpackages ship only when listed
    assert shipped and not [name for name in files if name.startswith("drill")]
