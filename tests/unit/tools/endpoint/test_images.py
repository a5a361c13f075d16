# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public Debian AMI parameters and their images (tools/endpoint/images.py).

Every assertion reads what the server answers, so each test fails on plain moto wherever moto and EC2 differ.
"""

from __future__ import annotations

import pytest

from harness.aws import REGION
from harness.aws import ec2_client
from tests.unit.tools.endpoint.ec2_calls import AL2023
from tests.unit.tools.endpoint.ec2_calls import DEBIAN_12_AMD64
from tests.unit.tools.endpoint.ec2_calls import ssm_client
from tools.endpoint import images

pytestmark = pytest.mark.moto


@pytest.mark.parametrize("region", [REGION, "eu-west-1"])
def test_debian_parameter_points_to_a_debian_image_of_the_region(ec2, ec2_endpoint, region):
    parameter = ssm_client(ec2_endpoint, region).get_parameter(Name=DEBIAN_12_AMD64)["Parameter"]
    assert parameter["Value"] == images.debian_ami_id(region, "12", "amd64")
    assert parameter["DataType"] == "aws:ec2:image"
    image = ec2_client(ec2_endpoint, region=region).describe_images(ImageIds=[parameter["Value"]])["Images"][0]
    assert (image["OwnerId"], image["Architecture"], image["Name"].startswith("debian-12-amd64-")) == ("136693071363", "x86_64", True)


def test_debian_parameters_by_path_and_codename(ec2, ec2_endpoint):
    ssm = ssm_client(ec2_endpoint)
    names = sorted(item["Name"] for item in ssm.get_parameters_by_path(Path="/aws/service/debian/release/12/latest")["Parameters"])
    assert names == ["/aws/service/debian/release/12/latest/amd64", "/aws/service/debian/release/12/latest/arm64"]
    codename = ssm.get_parameter(Name="/aws/service/debian/release/bookworm/latest/arm64")["Parameter"]["Value"]
    assert codename == images.debian_ami_id(REGION, "12", "arm64")
    assert ec2.describe_images(ImageIds=[codename])["Images"][0]["Architecture"] == "arm64"


def test_amazon_linux_parameter_comes_from_moto(ec2, ec2_endpoint):
    value = ssm_client(ec2_endpoint).get_parameter(Name=AL2023)["Parameter"]["Value"]
    assert ec2.describe_images(ImageIds=[value])["Images"][0]["Name"].startswith("al2023-ami-")
