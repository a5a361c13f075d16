# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmarks (benchmarks/README.md), run from the repository root as ``python -m benchmarks.<name>``.

What they share lives in the harness package (harness.bench, harness.monitor);
baseline_monitor.py is the exception that runs as a plain script, because the lab's
utility host runs it with the monitor's own virtualenv, outside this checkout.
"""
