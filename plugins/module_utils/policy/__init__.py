# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy: when traffic moves between Direct Connect and the VPN, and the monitor's defaults.

* ``state_machine``: the failover state machine, pure (fed probe rounds, answers with
  decisions), and the rules the daemon applies outside it (when a round passes, the
  dampened failback hold), written once here;
* ``defaults``: the one table of every monitor setting's default and type, which the
  daemon's configuration, ``PolicySettings`` and the monitor role read or are tested
  against.

No Ansible, no AWS, no clocks: shared by the modules, the monitor daemon and the benchmarks.
"""
