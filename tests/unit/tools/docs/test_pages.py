# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docs site's generated parts (tools/docs/pages.py): what a reader of the site gets from the collection's own files."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from harness.paths import REPO_ROOT
from tools.docs import pages

SETTINGS, REQUIRED = pages.load_settings()


def table_rows(rst):
    """``{key: (type, default, meaning)}`` of the generated list-table (header row left out)."""
    rows = {}
    for row in rst.split("\n   * - ")[2:]:
        key, kind, default, meaning = [cell.strip() for cell in row.split("\n     - ")]
        rows[key.strip("`")] = (kind, default, meaning)
    return rows


def test_the_configuration_reference_has_every_key_of_the_defaults_table_with_its_type_and_default():
    rows = table_rows(pages.monitor_configuration_rst())
    assert list(rows) == [setting.key for setting in SETTINGS]
    assert rows["probe.echoes"][:2] == ("int", "``2``")
    assert rows["policy.brownout_loss_pct"][:2] == ("float", "``25.0``")
    assert rows["region"][1] == "required"
    assert rows["endpoint_url"][1] == "``null``"
    assert rows["cloudwatch.namespace"][1] == '``"LocalZonesFailover"``'


def test_the_meanings_come_from_the_monitor_roles_argument_spec_with_links_to_its_options():
    rows = table_rows(pages.monitor_configuration_rst())
    assert rows["destination_cidrs"][2] == r"On\-premises CIDRs (IPv4 and IPv6)."
    assert ":ansopt:`localzones.failover.monitor#role:main:monitor\\_config.probe.interval`" in rows["probe.timeout"][2]


def test_a_key_the_argument_spec_does_not_describe_stops_the_build(tmp_path):
    for path in (pages.DEFAULTS_FILE, pages.MONITOR_ARGUMENT_SPEC):
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        shutil.copy(os.path.join(REPO_ROOT, path), tmp_path / path)
    with open(tmp_path / pages.MONITOR_ARGUMENT_SPEC, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    del spec["argument_specs"]["main"]["options"]["monitor_config"]["options"]["policy"]["options"]["failback_hold_s"]
    with open(tmp_path / pages.MONITOR_ARGUMENT_SPEC, "w", encoding="utf-8") as handle:
        yaml.safe_dump(spec, handle)
    with pytest.raises(pages.PageError, match="monitor_config.policy.failback_hold_s has no description"):
        pages.monitor_configuration_rst(str(tmp_path))


def test_a_playbooks_header_comment_becomes_prose_and_shell_blocks():
    playbook = "---\n# Switch the `lz_failover_path` by hand:\n#   ansible-playbook x.yml -e a=b\n#\n# Then *check*.\n- name: x\n# not header\n"
    header = pages.header_comment(playbook)
    assert pages.header_rst(header) == (
        "Switch the ``lz_failover_path`` by hand:\n\n"
        ".. code-block:: shell\n\n"
        "   ansible-playbook x.yml -e a=b\n\n"
        r"Then \*check\*."
    )


def test_the_playbooks_page_has_site_yml_and_every_playbook_with_its_plays_and_roles():
    rst = pages.playbooks_rst()
    titles = [line.strip("`") for line, underline in zip(rst.splitlines(), rst.splitlines()[1:]) if underline and set(underline) == {"-"}]
    assert titles[0] == "site.yml"
    assert sorted(titles[1:]) == sorted("playbooks/" + name for name in os.listdir(os.path.join(REPO_ROOT, "playbooks")) if name.endswith(".yml"))
    assert "* Provision the AWS side: imports ``playbooks/provision.yml``" in rst
    assert "roles :ansplugin:`localzones.failover.drill#role`" in rst


def test_markers_are_replaced_and_an_unknown_one_is_refused(tmp_path):
    page_dir = str(tmp_path / "rst" / "docsite")
    expanded = pages.expand_page("Title\n=====\n\n.. docs-generate: markdown lab/README.md\n", page_dir)
    include = os.path.relpath(os.path.join(REPO_ROOT, "lab", "README.md"), page_dir)
    assert expanded == "Title\n=====\n\n.. include:: %s\n   :parser: myst_parser.sphinx_\n" % include
    with pytest.raises(pages.PageError, match="no Markdown file"):
        pages.expand_page(".. docs-generate: markdown lab/MISSING.md\n", page_dir)
    with pytest.raises(pages.PageError, match="unknown marker"):
        pages.expand_page(".. docs-generate: modules\n", page_dir)


def test_every_marker_in_the_sites_pages_expands(tmp_path):
    source = os.path.join(REPO_ROOT, "docs", "docsite", "rst")
    shutil.copytree(source, tmp_path / "docsite")
    changed = pages.expand_pages(str(tmp_path))
    assert sorted(os.path.basename(path) for path in changed) == sorted(os.listdir(source))
    for path in changed:
        with open(path, encoding="utf-8") as handle:
            assert ".. docs-generate:" not in handle.read()


def test_a_key_with_choices_lists_them():
    rows = table_rows(pages.monitor_configuration_rst())
    assert rows["log_level"][2].endswith("One of ``debug``, ``info``, ``warning``, ``error``.")
