# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The harness the tests and the benchmarks share: labs, the EC2 endpoint's clients, polling, processes.

Imported from the repository root (pytest.ini's ``pythonpath``, or ``python -m`` run there),
never through ``sys.path`` edits:

* ``paths``: where the checkout and its collection link are;
* ``waiting``: the one polling helper (``wait_for``) and its non-failing twin (``first_within``);
* ``processes``: ending a child process, politely first;
* ``netns``: network-namespace labs; ``hosts``: systemd-nspawn hosts in them (lab/nspawn.py);
* ``aws``: the EC2 fidelity endpoint (tools/endpoint/): fixtures, control-API clients,
  the reference topology; ``provision``: running and checking the AWS roles' playbooks;
* ``monitor``: the monitor daemon's namespace lab, used by the integration tests and by
  benchmarks/monitor_failover.py;
* ``bench``: what both benchmarks report with (machine facts, statistics, exit codes);
* ``prerequisites``: what scripts/setup.sh promises, checked before a CI run;
  ``ci_gate``: the pytest plugin that checks it under ``CI=true`` and fails a CI run with a skip.

The failover lab itself (``lab``) and the benchmarks (``benchmarks``) are packages beside
this one, started with ``python -m lab.lab`` and ``python -m benchmarks.<name>``.
"""
