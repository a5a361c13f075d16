# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coordination of the monitors of one failover group: one writer, an operator's pin; pure, no AWS calls.

* ``schema``: the layout of the coordination table (DynamoDB), one place for every
  attribute name, shared by the monitor, the modules and the provisioning roles;
* ``lease``: who of the group may change the route tables, and until when (the
  fencing number, the holder's margin for clock skew and calls in flight);
* ``pin``: the operator's pin (which path, until when, who and why), what is in force,
  and the group's status as the playbooks show it.
"""
