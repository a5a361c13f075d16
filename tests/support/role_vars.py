# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's variables as Ansible templates them, without running the role.

``role_values(role, expressions, *scenarios)`` runs one ansible-playbook on localhost
that loads the role's defaults and vars and, once per scenario (the inventory's values
and the facts a task would register, given as the task's vars, which win over the
role's files), prints the Jinja ``expressions``. About two seconds for the run,
whatever the number of scenarios: ask for them together.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import yaml

from harness.paths import REPO_ROOT
from harness.provision import BIN
from harness.provision import ansible_environment


def role_values(role, expressions, *scenarios):
    """``[{expression: value}]``, one per scenario: the role's ``expressions`` templated with the scenario's variables."""
    role_dir = os.path.join(REPO_ROOT, "roles", role)
    play = [{
        "name": "Print the role's variables",
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [os.path.join(role_dir, "defaults", "main.yml"), os.path.join(role_dir, "vars", "main.yml")],
        "tasks": [{"name": "Scenario %d" % index, "ansible.builtin.debug": {"msg": {name: "{{ %s }}" % name for name in expressions}},
                   "vars": scenario} for index, scenario in enumerate(scenarios)],
    }]
    with tempfile.TemporaryDirectory(prefix="lz-role-vars-") as directory:
        playbook = os.path.join(directory, "play.yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            yaml.safe_dump(play, handle)
        completed = subprocess.run(
            [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", playbook],
            env=ansible_environment(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    try:
        results = [task["hosts"]["localhost"] for task in json.loads(completed.stdout)["plays"][0]["tasks"]]
    except (ValueError, LookupError):
        raise AssertionError("ansible-playbook printed no result (rc %s):\n%s\n%s" % (completed.returncode, completed.stdout, completed.stderr)) from None
    failed = [result.get("msg") for result in results if result.get("failed")]
    assert not failed and len(results) == len(scenarios), failed or completed.stderr
    return [result["msg"] for result in results]
