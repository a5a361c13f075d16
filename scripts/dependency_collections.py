# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the collections this one depends on, one ``FQCN<TAB>directory`` line each.

galaxy.yml's dependencies, followed through each one's MANIFEST.json, found where the
running interpreter finds collections (an ``ansible_collections`` directory on its
``sys.path``: the ``ansible`` package in .venv, or the copies scripts/setup.sh puts on an
ansible-core line's path).  Used by scripts/sanity.sh (to link them beside the collection)
and scripts/setup.sh (to copy them to the other ansible-core lines).  Run from the
collection's root; exits 1 naming a dependency that is not installed.
"""

from __future__ import annotations

import json
import os
import sys

import yaml


def installed_directory(fqcn):
    """The directory of collection ``fqcn`` on this interpreter's path, or None."""
    namespace, name = fqcn.split(".")
    for entry in sys.path:
        path = os.path.join(entry or ".", "ansible_collections", namespace, name)
        if os.path.isfile(os.path.join(path, "MANIFEST.json")):
            return path
    return None


def dependency_directories(galaxy_file="galaxy.yml"):
    """``{fqcn: directory}`` of galaxy.yml's dependencies and theirs; SystemExit naming a missing one."""
    with open(galaxy_file, encoding="utf-8") as handle:
        pending = list(yaml.safe_load(handle).get("dependencies") or {})
    found = {}
    while pending:
        fqcn = pending.pop()
        if fqcn in found:
            continue
        directory = installed_directory(fqcn)
        if directory is None:
            sys.exit(f"dependency {fqcn} is not installed in {sys.prefix}")
        found[fqcn] = directory
        with open(os.path.join(directory, "MANIFEST.json"), encoding="utf-8") as handle:
            pending.extend(json.load(handle)["collection_info"].get("dependencies") or {})
    return found


if __name__ == "__main__":
    for name, path in sorted(dependency_directories().items()):
        print(f"{name}\t{path}")
