# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover's tags are defined once: the lookup answers from that definition, no role or
playbook spells a tag key out, and the one file that must (aws_ec2.yml) agrees with it."""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from ansible.errors import AnsibleLookupError

from ansible_collections.localzones.failover.plugins.lookup.failover_tags import LookupModule
from ansible_collections.localzones.failover.plugins.module_utils import tags
from harness.paths import REPO_ROOT


def test_the_lookup_answers_from_the_one_definition():
    assert LookupModule().run(["managed_by_key", "role_key", "vpn_appliance", "utility"]) == [
        "localzones.failover/managed-by", "localzones.failover/role", "vpn-appliance", "utility"]


def test_an_unknown_name_is_an_error_that_lists_the_known_ones():
    with pytest.raises(AnsibleLookupError, match="unknown failover tag name.*managed-by.*known: managed_by_key, role_key, utility, vpn_appliance"):
        LookupModule().run(["managed-by"])


def code_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [line for line in handle if not line.lstrip().startswith("#")]


@pytest.mark.parametrize("pattern", ["roles/*/tasks/*.yml", "roles/*/vars/*.yml", "roles/*/defaults/*.yml", "playbooks/*.yml", "site.yml"])
def test_no_role_or_playbook_spells_a_tag_key_out(pattern):
    spelled = [(os.path.relpath(path, REPO_ROOT), line.strip()) for path in glob.glob(os.path.join(REPO_ROOT, pattern)) for line in code_lines(path)
               if tags.MANAGED_BY_KEY in line or tags.ROLE_KEY in line]
    assert spelled == []


def test_the_aws_inventory_finds_the_instances_by_the_same_tags():
    with open(os.path.join(REPO_ROOT, "inventories", "aws", "aws_ec2.yml"), encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    assert "tag:" + tags.MANAGED_BY_KEY in config["filters"]
    assert config["groups"]["utility"] == "tags.get('%s') == '%s'" % (tags.ROLE_KEY, tags.ROLE_UTILITY)
    assert config["groups"]["vpn_appliances"] == "tags.get('%s') == '%s'" % (tags.ROLE_KEY, tags.ROLE_VPN_APPLIANCE)
