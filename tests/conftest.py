"""Test-session wiring shared by every test directory.

Tests import the collection the way Ansible does
(``ansible_collections.localzones.failover...``): pytest.ini puts ``.cache/collections``
on the import path, where scripts/setup.sh links the checkout as
``ansible_collections/localzones/failover``; the link is made again here when it is
missing or points elsewhere (a moved checkout), so a run never imports another copy.

Under ``CI=true`` (``.ci/run``) a run with a missing setup prerequisite does not start,
and a run in which any test skipped fails (the plugin harness/ci_gate.py).
"""

from __future__ import annotations

import importlib
import os

from harness.paths import COLLECTION_LINK
from harness.paths import REPO_ROOT


def _link_collection():
    if os.path.islink(COLLECTION_LINK) and os.path.realpath(COLLECTION_LINK) == REPO_ROOT:
        return
    os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
    if os.path.islink(COLLECTION_LINK):
        os.unlink(COLLECTION_LINK)
    os.symlink(REPO_ROOT, COLLECTION_LINK)
    # The import system may have looked for the path before the link was there.
    importlib.invalidate_caches()


_link_collection()

pytest_plugins = ["harness.aws", "harness.netns", "harness.monitor", "harness.ci_gate"]
