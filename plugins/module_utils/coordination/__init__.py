# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coordination of the monitors of one failover group: one writer, an operator's pin; pure, no AWS calls.

* ``schema``: the layout of the coordination table (DynamoDB), one place for every
  attribute name, shared by the monitor, the modules and the provisioning roles.
"""
