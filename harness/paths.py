# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the checkout is, and where Ansible finds this checkout as the localzones.failover collection.

No imports beyond the standard library: tests/conftest.py and harness.prerequisites read
these before pytest registers the harness's fixture modules (whose asserts it rewrites).
"""

from __future__ import annotations

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# scripts/setup.sh links the checkout here as ansible_collections/localzones/failover:
# ANSIBLE_COLLECTIONS_PATH for every Ansible run, and pytest.ini's pythonpath for the tests.
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")
COLLECTION_LINK = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "localzones", "failover")
