# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover lab (lab/README.md): its topology, its hosts and the VPC router's agents.

Run from the repository root as modules, e.g. ``python -m lab.lab up`` (lab/lab.sh does
this); lab.lab starts ``python -m lab.router_agent`` and ``python -m lab.vgw_agent`` on
the host, inside the vpc-router's namespace, with the checkout as working directory.
Nothing here runs inside the lab's containers.
"""
