# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the endpoint reads from or writes to HTTP.

The control API's JSON answers (``{"error": {"code", "message"}}`` for an
error), the path it lives under, the SigV4 credential scope that names the
region and the service of an AWS request and the access key that signed it,
any AWS request's service, Action and caller (``api_request``), EC2's query
protocol: the Action and parameters of an EC2 request (``ec2_request``, read
once per request and shared by the parts that look at it) and EC2's error body
(``ec2_error_response``), and the error bodies of the other protocols
(``api_error_response``).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape

from werkzeug.wrappers import Response

# The region of a control request (and an unsigned AWS request) that names none.
DEFAULT_REGION = "us-east-1"
CONTROL_PREFIX = "/_fidelity/"
EC2_API_VERSION = "2016-11-15"
# Where ec2_request leaves what it read, so the body is parsed once per request.
_EC2_REQUEST_KEY = "fidelity.ec2_request"

_SIGV4_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/,\s]+/([^/,\s]+)/([^/,\s]+)/aws4_request")
_SIGV4_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
# Where api_request leaves what it read.
_API_REQUEST_KEY = "fidelity.api_request"


def json_response(status, body):
    """A control API answer: ``body`` as JSON with HTTP ``status``."""
    return Response(json.dumps(body), status=status, mimetype="application/json")


def json_error(status, code, message):
    """A control API error answer."""
    return json_response(status, {"error": {"code": code, "message": message}})


def control_resource_response(request, show, put, delete):
    """Answer a control resource that GET shows, PUT sets from a JSON object and DELETE clears.

    ``show()`` gives the body of GET's answer (and of DELETE's, after
    ``delete()``); ``put(body)`` takes the JSON object PUT sent and gives the
    body of the answer, or raises ValueError for a bad one (answered 400 with
    its message: ``put`` must then have changed nothing).
    """
    if request.method == "PUT":
        return _put_json_object(request, put)
    if request.method == "DELETE":
        delete()
    elif request.method != "GET":
        return json_error(405, "MethodNotAllowed", "use GET, PUT or DELETE")
    return json_response(200, show())


def _put_json_object(request, put):
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return json_error(400, "InvalidJson", "the body is not JSON")
    if not isinstance(body, dict):
        return json_error(400, "InvalidParameterValue", "the body must be a JSON object")
    try:
        return json_response(200, put(body))
    except ValueError as exc:
        return json_error(400, "InvalidParameterValue", str(exc))


def credential_scope(environ):
    """``(region, service)`` of a SigV4-signed request, or None for an unsigned one."""
    scope = _SIGV4_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return scope.groups() if scope is not None else None


def access_key_id(environ):
    """The access key id that signed the request (SigV4 ``Credential=AKID/...``), or None for an unsigned one."""
    match = _SIGV4_ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match is not None else None


@dataclass(frozen=True)
class ApiRequest:
    """Any AWS API request: who sent it, to which service, for which Action.

    ``service`` is the SigV4 credential scope's (``ec2``, ``dynamodb``, ...;
    ``ec2`` for an unsigned request with EC2's ``Version``, else None);
    ``action`` is the ``X-Amz-Target`` operation of a JSON-protocol request
    (``DynamoDB_20120810.UpdateItem`` -> ``UpdateItem``) or the query
    protocol's ``Action``; ``json_protocol`` says which of the two it is.
    """

    service: str | None
    region: str | None
    action: str | None
    access_key_id: str | None
    json_protocol: bool
    params: dict


@dataclass(frozen=True)
class Ec2Request:
    """An EC2 query-protocol request: its Action and its parameters (``{name: [values]}``, query string and form body)."""

    action: str
    params: dict


def _peek_form_body(environ):
    """The form-encoded body of the request, put back into ``wsgi.input`` for moto to read."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


def _read_api_request(environ):
    scope = credential_scope(environ)
    region, service = scope if scope is not None else (None, None)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        # The JSON protocols name the operation in the header; the body is the service's own JSON, left unread.
        return ApiRequest(service, region, target.rsplit(".", 1)[-1] or None, access_key_id(environ), True, {})
    params = parse_qs(environ.get("QUERY_STRING", ""))
    params.update(parse_qs(_peek_form_body(environ)))
    action = (params.get("Action") or [None])[0] or None
    if scope is None and (params.get("Version") or [None])[0] == EC2_API_VERSION:
        service = "ec2"
    return ApiRequest(service, region, action, access_key_id(environ), False, params)


def api_request(environ):
    """The request as an ``ApiRequest`` (read once per request; the form body is put back for moto)."""
    if _API_REQUEST_KEY not in environ:
        environ[_API_REQUEST_KEY] = _read_api_request(environ)
    return environ[_API_REQUEST_KEY]


def _read_ec2_request(environ):
    request = api_request(environ)
    if request.service != "ec2" or request.json_protocol or not request.action:
        return None
    return Ec2Request(request.action, request.params)


def ec2_request(environ):
    """The request as an ``Ec2Request``, or None for anything but EC2's query protocol.

    A request is EC2's when its SigV4 credential scope names ``ec2`` (or,
    unsigned, it carries EC2's ``Version=2016-11-15``).
    """
    if _EC2_REQUEST_KEY not in environ:
        environ[_EC2_REQUEST_KEY] = _read_ec2_request(environ)
    return environ[_EC2_REQUEST_KEY]


def ec2_action_read(environ):
    """The Action of an EC2 request that ec2_request() has already read, else None (reads nothing)."""
    request = environ.get(_EC2_REQUEST_KEY)
    return request.action if request is not None else None


def ec2_error_response(code, message, status):
    """EC2's query-protocol error answer (``<Response><Errors><Error>...</Errors><RequestID/></Response>``)."""
    request_id = str(uuid.uuid4())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{xml_escape(code)}</Code>'
            f"<Message>{xml_escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
    return Response(body, status=status, content_type="text/xml;charset=UTF-8", headers={"x-amzn-RequestId": request_id})


def api_error_response(request, code, message, status):
    """An error answer in the protocol of ``request`` (an ``ApiRequest``): EC2's, the JSON protocols', or the query protocol's."""
    if request.service == "ec2" and not request.json_protocol:
        return ec2_error_response(code, message, status)
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if request.json_protocol:
        # botocore reads the code from "__type" (after any "namespace#") and the message from "message".
        body = json.dumps({"__type": code, "message": message})
        return Response(body, status=status, content_type="application/x-amz-json-1.0", headers=headers)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>{xml_escape(code)}</Code>'
            f"<Message>{xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(body, status=status, content_type="text/xml;charset=UTF-8", headers=headers)
