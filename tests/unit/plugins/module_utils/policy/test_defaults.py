# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor role against the policy's one table of defaults.

The daemon reads its defaults from ``policy/defaults.py``; the role states them again
in three places Ansible needs them (its vars, its argument spec, the template that
renders the file). These tests hold all three to the table, so a new setting, or a
changed default, is one row in the table and a failing test names what else to change.
"""

from __future__ import annotations

import json
import os

import jinja2
import jinja2.nativetypes
import yaml

from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import REQUIRED
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import SETTINGS
from lz_failover_monitor.config import validate_document
from harness.paths import REPO_ROOT

ROLE = os.path.join(REPO_ROOT, "roles", "monitor")
TABLE = {setting.key: setting.default for setting in SETTINGS}
TABLE_DEFAULTS = {key: value for key, value in TABLE.items() if value is not REQUIRED}
# What an inventory gives for the settings without a default (any valid values do).
REQUIRED_VALUES = {
    "region": "us-east-1",
    "route_table_ids": ["rtb-0123456789abcdef0"],
    "destination_cidrs": ["198.19.0.0/24"],
    "vpn_eni_id": "eni-0123456789abcdef0",
    "probe": {"targets": ["198.19.0.10"]},
}


def role_yaml(*path):
    with open(os.path.join(ROLE, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def leaves(mapping, prefix=""):
    """``{dotted key: value}`` of a nested mapping's non-mapping values."""
    flat = {}
    for name, value in mapping.items():
        key = "%s.%s" % (prefix, name) if prefix else name
        if isinstance(value, dict):
            flat.update(leaves(value, key))
        else:
            flat[key] = value
    return flat


def evaluated(value, **role_vars):
    """A role variable's value as Ansible sees it with no inventory: Jinja expressions evaluated (``role_vars`` in scope)."""
    if isinstance(value, dict):
        return {name: evaluated(item, **role_vars) for name, item in value.items()}
    if isinstance(value, str) and "{{" in value:
        return jinja2.nativetypes.NativeEnvironment().from_string(value).render(**role_vars)
    return value


def role_defaults():
    """The role's ``__monitor_config_defaults``, evaluated."""
    return evaluated(role_yaml("vars", "main.yml")["__monitor_config_defaults"])


def merged(base, overrides):
    result = dict(base)
    for name, value in overrides.items():
        result[name] = merged(result[name], value) if isinstance(value, dict) and isinstance(result.get(name), dict) else value
    return result


def spec_options(options, prefix=""):
    """``{dotted key: option}`` of the leaf options under an argument spec's ``options``."""
    flat = {}
    for name, option in options.items():
        key = "%s.%s" % (prefix, name) if prefix else name
        if "options" in option:
            flat.update(spec_options(option["options"], key))
        else:
            flat[key] = option
    return flat


def ansible_bool(value):
    """Ansible's ``bool`` filter, for the values a role variable may hold."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("yes", "on", "1", "true")


def render_template(effective):
    """config.yml.j2 rendered with ``__monitor_config_effective``, parsed as the daemon parses it."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")), undefined=jinja2.StrictUndefined)
    environment.filters.update(to_json=json.dumps, bool=ansible_bool)
    text = environment.get_template("config.yml.j2").render(__monitor_config_effective=effective)
    return yaml.safe_load(text)


def test_the_role_defaults_are_the_tables():
    assert leaves(role_defaults()) == TABLE_DEFAULTS


def test_what_the_inventory_does_not_set_falls_back_to_the_tables_default():
    """The collection-wide variables win over the role's defaults; unset, they must not change them."""
    role_vars = role_yaml("vars", "main.yml")
    from_inventory = leaves(evaluated(role_vars["__monitor_config_from_inventory"], __monitor_config_defaults=role_defaults()))
    for key, value in from_inventory.items():
        if TABLE[key] is REQUIRED:
            assert not value, "%s: unset, the role must report it missing" % key
        else:
            assert value == TABLE[key], key


def test_the_argument_spec_documents_every_setting_with_the_tables_default_and_type():
    monitor_config = role_yaml("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]["monitor_config"]
    options = spec_options(monitor_config["options"])
    assert sorted(options) == sorted(TABLE)
    for setting in SETTINGS:
        option = options[setting.key]
        expected = None if setting.default is REQUIRED else setting.default
        assert (option.get("default"), option["type"]) == (expected, setting.type), setting.key


def test_the_template_renders_every_setting_with_the_tables_default():
    rendered = render_template(merged(role_defaults(), REQUIRED_VALUES))
    values = leaves(rendered)
    assert sorted(values) == sorted(TABLE), "every setting is rendered, so the file shows every value in force"
    assert {key: values[key] for key in TABLE_DEFAULTS} == TABLE_DEFAULTS
    assert validate_document(rendered) == validate_document(REQUIRED_VALUES), "the rendered defaults are the daemon's"


def test_each_default_has_the_type_the_role_casts_it_to():
    python_types = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list}
    for setting in SETTINGS:
        if setting.default is not REQUIRED and setting.default is not None:
            assert isinstance(setting.default, python_types[setting.type]) and not (setting.type != "bool" and isinstance(setting.default, bool)), setting.key
