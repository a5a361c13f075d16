"""Test-session wiring shared by every test directory.

Tests import the collection the way Ansible does
(``ansible_collections.localzones.failover...``), so the checkout is exposed
under ``.cache/collections/ansible_collections/localzones/failover``.
"""

from __future__ import annotations

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")


def _expose_collection():
    namespace_dir = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "localzones")
    link = os.path.join(namespace_dir, "failover")
    os.makedirs(namespace_dir, exist_ok=True)
    if not os.path.islink(link) or os.path.realpath(link) != REPO_ROOT:
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(REPO_ROOT, link)
    if COLLECTIONS_ROOT not in sys.path:
        sys.path.insert(0, COLLECTIONS_ROOT)


_expose_collection()

pytest_plugins = ["tests.support.aws", "tests.support.netns"]
