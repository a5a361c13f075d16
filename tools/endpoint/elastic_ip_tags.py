# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DescribeTags gives an Elastic IP's tags the resource type ``elastic-ip``, as EC2 does.

moto said ``vpc-elastic-ip``, so a ``resource-type`` filter of ``elastic-ip``
found none and amazon.aws.ec2_eip re-tagged on every run.
"""

from __future__ import annotations

from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE


def install():
    """Correct moto's resource type table (used by DescribeTags only; called once, by behaviours.install())."""
    EC2_PREFIX_TO_RESOURCE["eipalloc"] = "elastic-ip"
