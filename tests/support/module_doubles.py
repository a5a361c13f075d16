# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``RecordingModule``: what the route modules' ``run`` uses of AnsibleAWSModule, answering with the test's EC2 client.

The options start from the managed-route argument spec's defaults, as Ansible fills
them, so a test names only the options it sets.
"""

from __future__ import annotations

from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import managed_routes_argument_spec


class RecordingModule:
    """Records the warnings and the result of one module run."""

    def __init__(self, params, ec2, check_mode=False, diff=False):
        self.params = {name: spec.get("default") for name, spec in managed_routes_argument_spec().items()}
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self._ec2 = ec2
        self.warnings = []
        self.result = None

    def client(self, _service, config=None):  # pylint: disable=unused-argument
        return self._ec2

    def warn(self, message):
        self.warnings.append(message)

    def exit_json(self, **result):
        self.result = result
