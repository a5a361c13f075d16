# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attribute every AWS-facing module of this collection adds to localzones.failover.attributes.
    DOCUMENTATION = r"""
attributes:
  action_group:
    support: full
    membership:
      - localzones.failover.aws
    description: Use C(group/localzones.failover.aws) in C(module_defaults) to set defaults for this module.
"""
