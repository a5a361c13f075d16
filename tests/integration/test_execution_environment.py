# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An execution environment built from examples/execution-environment installs what the plugins import.

``ansible-builder create`` writes the build context of the example definition, with the
collection taken from a tarball that ``ansible-galaxy collection build`` just made (so
nothing reaches Galaxy). The test then does what the image build would do with that
context, without a container engine: it installs the collection from the context's
galaxy requirements, with amazon.aws from the ``ansible`` package beside it, and runs the
context's own introspect script, which writes the pip and bindep lists the image installs.

The third-party packages the plugins need are found by reading their imports, so a new
import without a line in requirements.txt fails here.
"""

from __future__ import annotations

import glob
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.imports import imported_names
from harness.paths import REPO_ROOT

BIN = os.path.dirname(sys.executable)
EXAMPLE_DIR = os.path.join(REPO_ROOT, "examples", "execution-environment")
COLLECTION = "localzones.failover"
# Imports that are no Python distribution of their own: Ansible, and collections (galaxy.yml dependencies).
NOT_PIP_INSTALLED = {"__future__", "ansible", "ansible_collections"}


def run(argv, cwd=None):
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=240)
    assert completed.returncode == 0, "%s failed:\n%s%s" % (" ".join(argv), completed.stdout, completed.stderr)
    return completed.stdout


def top_level_imports(path):
    """First component of every absolute import in a Python file."""
    return {name.split(".")[0] for name in imported_names(path)}


def third_party_distributions_of_plugins():
    """{distribution name: [import names]} for what plugins/ imports beyond the standard library and Ansible."""
    providers = importlib.metadata.packages_distributions()
    needed = {}
    for path in sorted(glob.glob(os.path.join(REPO_ROOT, "plugins", "**", "*.py"), recursive=True)):
        for name in top_level_imports(path) - set(sys.stdlib_module_names) - NOT_PIP_INSTALLED:
            assert name in providers, "%s imports %s, which no installed distribution provides" % (path, name)
            for distribution in providers[name]:
                needed.setdefault(canonicalize_name(distribution), set()).add(name)
    return needed


def lines_from(text, collection):
    """The entries an introspected list attributes to one collection, without the annotation."""
    marker = "  # from collection %s" % collection
    return [line[:-len(marker)] for line in text.splitlines() if line.endswith(marker)]


def definition_with_local_collection(tarball):
    """The example definition, with localzones.failover from the tarball instead of Galaxy."""
    with open(os.path.join(EXAMPLE_DIR, "execution-environment.yml"), encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    assert definition["dependencies"]["galaxy"] == "requirements.yml"
    with open(os.path.join(EXAMPLE_DIR, "requirements.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    # The example asks Galaxy for this collection; the test gives the tarball in its place.
    assert COLLECTION in [entry["name"] for entry in galaxy["collections"]]
    local = "collections/" + os.path.basename(tarball)
    definition["dependencies"]["galaxy"] = {"collections": [{"name": local, "type": "file"}]}
    definition["additional_build_files"] = [{"src": tarball, "dest": "collections"}]
    return definition


@pytest.fixture(scope="module")
def introspected(tmp_path_factory):
    """The build context and what its introspection writes: {"context", "collection", "pip", "bindep"}."""
    work = tmp_path_factory.mktemp("ee")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(work), REPO_ROOT])
    tarball = glob.glob(os.path.join(str(work), "localzones-failover-*.tar.gz"))[0]

    definition = work / "execution-environment.yml"
    definition.write_text(yaml.safe_dump(definition_with_local_collection(tarball)), encoding="utf-8")
    context = work / "context"
    run([os.path.join(BIN, "ansible-builder"), "create", "--file", str(definition), "--context", str(context),
         "--output-filename", "Containerfile"])

    # The galaxy stage: install from the context's requirements.yml, in the context's _build.
    collections = work / "collections"
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
         "-r", "requirements.yml", "--collections-path", str(collections)], cwd=str(context / "_build"))
    amazon_aws = str(importlib.metadata.distribution("ansible").locate_file("ansible_collections/amazon/aws"))
    os.makedirs(collections / "ansible_collections" / "amazon")
    os.symlink(amazon_aws, collections / "ansible_collections" / "amazon" / "aws")

    # The builder stage: the context's introspect script writes the lists the image installs.
    src = work / "src"
    run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(collections),
         "--write-pip=%s" % (src / "requirements.txt"), "--write-bindep=%s" % (src / "bindep.txt")])
    return {
        "context": context,
        "collection": collections / "ansible_collections" / "localzones" / "failover",
        "pip": (src / "requirements.txt").read_text(encoding="utf-8"),
        "bindep": (src / "bindep.txt").read_text(encoding="utf-8"),
    }


def test_the_build_introspects_the_installed_collections_and_installs_what_it_found(introspected):
    containerfile = (introspected["context"] / "Containerfile").read_text(encoding="utf-8")
    assert re.search(r"ansible-galaxy collection install .*-r requirements.yml", containerfile)
    assert re.search(r"introspect\.py introspect .*--write-pip=/tmp/src/requirements.txt", containerfile)
    assert "RUN /output/scripts/assemble" in containerfile
    assert "RUN /output/scripts/install-from-bindep" in containerfile
    assert "ansible-core==2.19.14" in containerfile


def test_the_tarball_ships_the_execution_environment_metadata(introspected):
    installed = introspected["collection"]
    with open(installed / "meta" / "execution-environment.yml", encoding="utf-8") as handle:
        metadata = yaml.safe_load(handle)
    assert metadata["version"] == 1
    for entry in ("python", "system"):
        assert (installed / metadata["dependencies"][entry]).is_file()


def test_the_image_pip_installs_every_third_party_package_the_plugins_import(introspected):
    needed = third_party_distributions_of_plugins()
    assert needed, "no third-party import found in plugins/: the import reader is broken"
    installed = {canonicalize_name(Requirement(line).name) for line in lines_from(introspected["pip"], COLLECTION)}
    missing = {name: sorted(imports) for name, imports in needed.items() if name not in installed}
    assert not missing, "plugins import these, but requirements.txt does not list them: %s" % missing


def test_the_image_gets_the_versions_the_tests_run_with(introspected):
    pins = [Requirement(line) for line in lines_from(introspected["pip"], COLLECTION)]
    assert pins
    for pin in pins:
        assert str(pin.specifier) == "==%s" % importlib.metadata.version(pin.name), pin
    # amazon.aws's own requirements are combined with this collection's, not replaced.
    assert lines_from(introspected["pip"], "amazon.aws")


def test_the_image_gets_the_ssh_client_on_either_package_system(introspected):
    bindep = pytest.importorskip("bindep.depends")
    with open(os.path.join(REPO_ROOT, "bindep.txt"), encoding="utf-8") as handle:
        declared = [line for line in handle.read().splitlines() if line.strip() and not line.startswith("#")]
    combined = lines_from(introspected["bindep"], COLLECTION)
    assert combined == declared
    depends = bindep.Depends("\n".join(combined) + "\n")
    for profiles, package in ((["platform:rpm", "platform:centos"], "openssh-clients"),
                              (["platform:dpkg", "platform:debian"], "openssh-client")):
        assert [rule[0] for rule in depends.active_rules(profiles)] == [package]
