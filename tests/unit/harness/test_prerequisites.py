# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the CI prerequisite check reads from setup.sh and the requirement files, and how it finds what is missing."""

from __future__ import annotations

import os
import shutil

import pytest

from harness.paths import REPO_ROOT
from harness.prerequisites import TEST_REQUIREMENTS
from harness.prerequisites import missing_apt_packages
from harness.prerequisites import pinned_requirements
from harness.prerequisites import requirements_of_this_interpreter
from harness.prerequisites import setup_apt_packages


def test_the_main_virtualenv_is_held_to_the_test_requirements():
    assert requirements_of_this_interpreter(os.path.join(REPO_ROOT, ".venv")) == TEST_REQUIREMENTS


def test_an_ansible_core_line_is_held_to_its_own_file():
    prefix = os.path.join(REPO_ROOT, ".cache", "venvs", "ansible-core-2.18")
    path = requirements_of_this_interpreter(prefix)
    assert path == os.path.join(REPO_ROOT, "requirements", "ansible-core-2.18.txt")
    assert pinned_requirements(path)["ansible-core"] == "2.18.19"


def test_a_line_without_a_requirement_file_falls_back_to_the_test_requirements():
    prefix = os.path.join(REPO_ROOT, ".cache", "venvs", "ansible-core-9.99")
    assert requirements_of_this_interpreter(prefix) == TEST_REQUIREMENTS


def test_the_debian_packages_are_read_from_setup_sh_without_its_comments():
    packages = setup_apt_packages()
    assert {"iproute2", "nftables", "procps", "systemd-container", "debootstrap"} <= set(packages)
    assert not [word for word in packages if word.startswith("#") or word in ("sysctl,", "lab", "hosts")]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian machine (CI is one: the CI gate checks dpkg-query)")
def test_a_package_dpkg_does_not_know_is_missing():
    assert missing_apt_packages(["lz-no-such-package", "dpkg"]) == ["lz-no-such-package"]
