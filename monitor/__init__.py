# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover monitor daemon (lz-failover-monitor).

It probes on-premises targets over Direct Connect, decides the path with the
collection's state machine and keeps the route tables on it; the logic lives in
``ansible_collections.localzones.failover.plugins.module_utils`` (the collection's plugins/module_utils), this package
wires it into a long-running process.
"""

__version__ = "0.1.0"
