# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m tools.endpoint --host 127.0.0.1 --port 5000``: run the endpoint until SIGTERM (server.main)."""

from __future__ import annotations

import sys

from .server import main

sys.exit(main())
