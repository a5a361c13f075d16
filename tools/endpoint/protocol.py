# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the endpoint reads from or writes to HTTP.

The control API's JSON answers (``{"error": {"code", "message"}}`` for an
error), the path it lives under, and the SigV4 credential scope that names the
region and the service of an AWS request.
"""

from __future__ import annotations

import json
import re

from werkzeug.wrappers import Response

# The region of a control request (and an unsigned AWS request) that names none.
DEFAULT_REGION = "us-east-1"
CONTROL_PREFIX = "/_fidelity/"

_SIGV4_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/,\s]+/([^/,\s]+)/([^/,\s]+)/aws4_request")


def json_response(status, body):
    """A control API answer: ``body`` as JSON with HTTP ``status``."""
    return Response(json.dumps(body), status=status, mimetype="application/json")


def json_error(status, code, message):
    """A control API error answer."""
    return json_response(status, {"error": {"code": code, "message": message}})


def credential_scope(environ):
    """``(region, service)`` of a SigV4-signed request, or None for an unsigned one."""
    scope = _SIGV4_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return scope.groups() if scope is not None else None
