# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TerminateInstances detaches the interfaces that are not deleted on termination, as EC2 does.

An existing interface an instance was launched on stays, ``available`` and
without an attachment; moto left it ``in-use``, attached to the terminated
instance.
"""

from __future__ import annotations

from moto.ec2.models.instances import Instance

from .patching import original
from .patching import patch


def terminate_instance(self):
    """Instance.terminate that detaches, like EC2, the interfaces that are not deleted on termination."""
    kept = [nic for nic in self.nics.values() if not nic.delete_on_termination]
    state = original(Instance, "terminate")(self)
    for nic in kept:
        # Instance.detach_eni, except that the terminated instance keeps it in its list:
        # moto reads the instance's private address from its first interface.
        nic.instance = None
        nic.attachment_id = None
        nic.attach_time = None
        nic.status = "available"
        nic.device_index = None
    return state


def install():
    """Patch moto's Instance (called once, by behaviours.install())."""
    patch(Instance, "terminate", terminate_instance)
