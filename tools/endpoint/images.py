# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public Debian AMI parameters, and the images they point to.

moto serves the Amazon Linux parameters (``/aws/service/ami-amazon-linux-latest/...``,
e.g. ``al2023-ami-kernel-default-x86_64``) but none of Debian's.  Seeded here,
in every region: ``/aws/service/debian/release/12/latest/amd64`` and
``.../arm64`` and their ``bookworm`` aliases (the names Debian publishes), each
pointing to an image registered in that region's EC2 backend: owner
``136693071363`` (Debian's account), name ``debian-12-amd64-<build>``.  The
image IDs are made up but stable (``debian_ami_id(region, release, architecture)``).

Known difference: only the Debian 12 parameters are seeded; other public
parameter trees moto does not know (Ubuntu, Debian 11, ...) are still missing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from moto.core.utils import utcnow
from moto.ec2.models.amis import Ami
from moto.ec2.models.amis import AmiBackend
from moto.ssm.models import Parameter
from moto.ssm.models import ParameterDict

from .patching import original
from .patching import patch

# Debian's AWS account, which publishes the official Debian AMIs and their SSM parameters.
DEBIAN_OWNER_ID = "136693071363"
DEBIAN_RELEASES = (("12", "bookworm", "20250610-2137"),)
DEBIAN_ARCHITECTURES = (("amd64", "x86_64"), ("arm64", "arm64"))
_DEBIAN_LOADED_ATTR = "fidelity_debian_parameters_loaded"


def debian_ami_id(region, release, architecture):
    """The (made-up, stable) AMI ID the layer gives a Debian release in a region."""
    digest = hashlib.sha256(f"debian-{release}-{architecture}-{region}".encode()).hexdigest()
    return "ami-0" + digest[:16]


def _debian_images(region):
    """(SSM parameter names, AMI ID, AMI name, EC2 architecture) of every seeded Debian image."""
    images = []
    for release, codename, build in DEBIAN_RELEASES:
        for architecture, ec2_architecture in DEBIAN_ARCHITECTURES:
            names = [f"/aws/service/debian/release/{release}/latest/{architecture}", f"/aws/service/debian/release/{codename}/latest/{architecture}"]
            images.append((names, debian_ami_id(region, release, architecture), f"debian-{release}-{architecture}-{build}", ec2_architecture))
    return images


def _load_debian_parameters(parameters):
    for names, ami_id, _name, _architecture in _debian_images(parameters.region_name):
        for name in names:
            defaultdict.__getitem__(parameters, name).append(Parameter(
                account_id=parameters.account_id, name=name, value=ami_id, parameter_type="String", description=None, allowed_pattern=None,
                keyid=None, last_modified_date=utcnow(), version=1, data_type="aws:ec2:image"))


def check_loading_status(self, key):
    """ParameterDict._check_loading_status that also loads Debian's public AMI parameters on first use."""
    original(ParameterDict, "_check_loading_status")(self, key)
    if str(key or "").startswith("/aws/service/debian") and not getattr(self, _DEBIAN_LOADED_ATTR, False):
        setattr(self, _DEBIAN_LOADED_ATTR, True)
        _load_debian_parameters(self)


def load_amis(self):
    """AmiBackend._load_amis that also registers the Debian images the SSM parameters point to."""
    original(AmiBackend, "_load_amis")(self)
    for _names, ami_id, name, architecture in _debian_images(self.region_name):
        self.amis[ami_id] = Ami(self, ami_id, name=name, description=f"Debian {name.split('-')[1]} ({architecture})", owner_id=DEBIAN_OWNER_ID,
                                public=True, virtualization_type="hvm", architecture=architecture, root_device_type="ebs",
                                root_device_name="/dev/xvda", hypervisor="xen", region_name=self.region_name)


def install():
    """Patch moto's SSM parameters and AMI backend (called once, by behaviours.install())."""
    patch(ParameterDict, "_check_loading_status", check_loading_status)
    patch(AmiBackend, "_load_amis", load_amis)
