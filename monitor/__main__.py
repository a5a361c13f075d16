# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m lz_failover_monitor``: the same as the lz-failover-monitor command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
