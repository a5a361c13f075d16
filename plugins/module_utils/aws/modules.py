# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's AWS modules share: the one way they report a failure.

The module object is passed in (an AnsibleAWSModule or anything with its
``fail_json``), so the core stays free of Ansible imports.
"""

from __future__ import annotations


def fail_json_aws_error(module, error, msg=None, **result):
    """End the module run on ``error``, a ``FailoverError`` (``AwsApiError`` included).

    The task fails with ``msg`` (the error's own message unless a caller adds to
    it), the error's details (for an AWS failure: ``service``, ``operation``,
    ``code`` and ``request_id``) and ``result``, what the module had found or
    changed before the failure. Only the error's text and details go out, never
    the botocore exception, its traceback or the request it failed on.
    """
    failure = dict(result)
    failure.update(error.details)
    module.fail_json(msg=error.message if msg is None else msg, **failure)
