# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers that more than one test module uses: fakes, recorders and sample inputs.

Test modules import from here, never from one another, so each test module stays
free to change its own helpers.
"""
