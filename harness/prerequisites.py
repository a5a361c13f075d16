# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What scripts/setup.sh promises, checked before a CI run collects a single test.

Tests that need root, a tool or a package skip when it is missing, which is right on a
developer's laptop and wrong in CI: there a skip means a setup step broke, and the run
must not pass green. Under ``CI=true`` (``.ci/run``) the pytest plugin harness/ci_gate.py
therefore refuses to start when anything setup.sh installs is missing
(``missing_prerequisites``): root, every Debian package of its ``APT_PACKAGES`` list,
every pinned Python distribution of requirements/test.txt (and the files it includes; in
the virtualenv of another ansible-core line, that line's requirement file), and every
tool the namespace and lab tests look for (so a tool setup.sh forgot shows up here too).
Once the tests are collected it also refuses to run them when a module that one of them
imports through ``pytest.importorskip`` cannot be imported (``modules_the_tests_cannot_import``).

All of it is read from setup.sh, the requirement files, the harness's own tool lists and
the tests' own ``importorskip`` calls, so a prerequisite added there is checked here
without a second list to keep in step.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata

# harness.paths only: the harness's tool lists are imported when they are checked
# (tools_the_tests_need), so this module never imports a fixture module ahead of pytest,
# which would keep that module's asserts from being rewritten.
from harness.paths import REPO_ROOT

SETUP_SCRIPT = os.path.join(REPO_ROOT, "scripts", "setup.sh")
TEST_REQUIREMENTS = os.path.join(REPO_ROOT, "requirements", "test.txt")


def setup_apt_packages(script=SETUP_SCRIPT):
    """The Debian packages of setup.sh's ``APT_PACKAGES=( ... )`` array (comments dropped)."""
    with open(script, encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"^APT_PACKAGES=\((.*?)^\)", text, re.MULTILINE | re.DOTALL)
    if not match:
        raise AssertionError("no APT_PACKAGES=( ... ) array in %s" % script)
    words = []
    for line in match.group(1).splitlines():
        words.extend(line.split("#", 1)[0].split())
    return words


def pinned_requirements(path=TEST_REQUIREMENTS):
    """``{distribution: version}`` of every ``name==version`` line, following ``-r`` includes."""
    pins = {}
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.split("#", 1)[0].strip()
            if line.startswith("-r "):
                pins.update(pinned_requirements(os.path.join(os.path.dirname(path), line[3:].strip())))
            elif "==" in line:
                name, version = line.split("==", 1)
                pins[re.sub(r"\[.*\]", "", name).strip()] = version.strip()
    return pins


def requirements_of_this_interpreter(prefix=None):
    """The requirement file setup.sh installed into the running virtualenv.

    .venv holds requirements/test.txt; each other ansible-core line that scripts/matrix.sh
    tests has its own virtualenv, .cache/venvs/ansible-core-<line>, from
    requirements/ansible-core-<line>.txt.
    """
    name = os.path.basename(os.path.normpath(prefix or sys.prefix))
    line_requirements = os.path.join(REPO_ROOT, "requirements", name + ".txt")
    if name.startswith("ansible-core-") and os.path.isfile(line_requirements):
        return line_requirements
    return TEST_REQUIREMENTS


def missing_apt_packages(packages):
    missing = []
    for package in packages:
        completed = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], capture_output=True, text=True, check=False)
        if completed.stdout.strip() != "installed":
            missing.append(package)
    return missing


def wrong_distributions(pins):
    """``name: what is installed instead`` for every pin this interpreter does not satisfy."""
    problems = []
    for name, version in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append("%s: not installed (requirements pin %s)" % (name, version))
            continue
        if installed != version:
            problems.append("%s: %s installed, requirements pin %s" % (name, installed, version))
    return problems


def debian_package_problems():
    if shutil.which("dpkg-query") is None:
        return ["dpkg-query is not on PATH: the Debian packages of scripts/setup.sh cannot be checked (CI is a Debian 12 machine)"]
    return ["Debian package %s is not installed" % package for package in missing_apt_packages(setup_apt_packages())]


def tools_the_tests_need():
    # Imported here: harness.hosts pulls in the lab package, which only this check needs.
    from harness.hosts import LAB_TOOLS  # pylint: disable=import-outside-toplevel
    from harness.netns import REQUIRED_TOOLS  # pylint: disable=import-outside-toplevel

    return REQUIRED_TOOLS + LAB_TOOLS


def missing_prerequisites():
    """Every prerequisite of scripts/setup.sh this machine lacks, one line each (empty when ready)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root: the namespace and lab tests need root")
    problems.extend("tool %s is not on PATH" % tool for tool in tools_the_tests_need() if shutil.which(tool) is None)
    problems.extend(debian_package_problems())
    problems.extend("Python distribution %s" % problem for problem in wrong_distributions(pinned_requirements(requirements_of_this_interpreter())))
    return problems


def modules_imported_or_skipped(source_files):
    """The modules ``source_files`` import through ``importorskip`` calls with a literal name, sorted, each once.

    Read from the syntax tree, so a call written inside a string (a test of this check) does not count.
    """
    names = set()
    for path in source_files:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
        names.update(node.args[0].value for node in ast.walk(tree) if is_importorskip_of_a_name(node))
    return sorted(names)


def is_importorskip_of_a_name(node):
    if not isinstance(node, ast.Call) or not node.args:
        return False
    called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
    first = node.args[0]
    return called == "importorskip" and isinstance(first, ast.Constant) and isinstance(first.value, str)


def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package of a dotted name is missing
        return False


def modules_the_tests_cannot_import(source_files):
    """One line for each module ``source_files`` importorskip that this interpreter cannot import."""
    return ["Python module %s cannot be imported (a test imports it with pytest.importorskip)" % name
            for name in modules_imported_or_skipped(source_files) if not importable(name)]
