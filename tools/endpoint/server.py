# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The endpoint's HTTP server: moto's API with the emulated behaviours, the control API, and the command line.

Every request goes, in this order, to:

1. the control API under ``/_fidelity/`` (``CONTROL_RESOURCES``, plus
   ``vgw/<vgw_id>/prefixes`` and ``directconnect/...``);
2. the Direct Connect calls direct_connect.py answers;
3. EC2's request throttling (throttling.py, when it is on): the account's
   budget comes before a test's injected answer;
4. an injected API fault (faults.py), for a request that a rule matches (an
   EC2 request, or another service's when the rule names it);
5. moto (with behaviours.install() applied); DynamoDB item writes one at a
   time, so a conditional write is atomic as in DynamoDB (item_writes.py).

After a request that may have changed a route table, the route-table version
of the long poll is refreshed (change_notification.py).  Every API request
(not the control API's, not moto's own ``/moto-api/``) is recorded, with its
caller, times and status, in the request log (request_log.py; control API
``requests``).

* ``GET /_fidelity/health`` answers ``200 {"status": "ok"}``; an unknown control
  path answers 404 ``{"error": {"code": "NotFound", ...}}``.

Command line: ``python -m tools.endpoint --host 127.0.0.1 --port 5000`` (from
the collection root; ``--port 0`` picks a free port, ``--log-requests`` logs one
line per request, ``--throttle`` throttles EC2 requests as EC2 does from the
start) serves until SIGTERM/SIGINT and prints its URL (one line, e.g.
``http://127.0.0.1:5000``) on stdout once it accepts requests.

In-process: ``serve(host="127.0.0.1", port=0, log_requests=False, throttle=False)`` ->
``EndpointServer`` (``.url``, ``.host``, ``.port``, ``.stop()``).
"""

from __future__ import annotations

import argparse
import signal
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from . import change_notification
from . import direct_connect
from . import faults
from . import item_writes
from . import propagation
from . import request_log
from . import throttling
from .behaviours import install
from .protocol import CONTROL_PREFIX
from .protocol import api_request
from .protocol import ec2_action_read
from .protocol import json_error
from .protocol import json_response


def _health_response(request):
    return json_response(200, {"status": "ok"}) if request.method == "GET" else json_error(405, "MethodNotAllowed", "use GET")


# The control resources at a fixed path under /_fidelity/, and what answers them.
CONTROL_RESOURCES = {
    "faults": faults.faults_response,
    "requests": request_log.requests_response,
    "throttling": throttling.throttling_response,
    "route-tables/version": change_notification.route_tables_version_response,
    "health": _health_response,
}


def _control_response(request):
    parts = request.path[len(CONTROL_PREFIX):].strip("/").split("/")
    if parts[0] == "directconnect":
        return direct_connect.control_response(request, parts[1:])
    handler = CONTROL_RESOURCES.get("/".join(parts))
    if handler is not None:
        return handler(request)
    if len(parts) == 3 and parts[0] == "vgw" and parts[2] == "prefixes":
        return propagation.learned_prefixes_response(request, parts[1])
    return json_error(404, "NotFound", f"no control resource at {request.path}")


class EndpointApp:  # pylint: disable=too-few-public-methods
    """WSGI app: the control API under /_fidelity/, Direct Connect, throttling, injected API faults, everything else to moto."""

    def __init__(self):
        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        if request_log.is_recorded(environ.get("PATH_INFO", "")):
            response = self._respond_and_record(environ, start_response)
        else:
            response = self._respond(environ, start_response)
        # moto has done its work by now: a waiting route-table watcher learns of a change at once.
        if change_notification.may_change_route_tables(environ, ec2_action_read(environ)):
            change_notification.refresh_route_tables_version()
        return response

    def _respond_and_record(self, environ, start_response):
        """Answer the request and add it to the request log (an answer that raised is recorded as 500)."""
        start = time.time()
        request = api_request(environ)  # read before moto consumes the body
        statuses = []

        def recording_start_response(status, headers, exc_info=None):
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)

        try:
            return self._respond(environ, recording_start_response)
        finally:
            request_log.record(request, start, time.time(), statuses[-1] if statuses else 500)

    def _respond(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return _control_response(Request(environ))(environ, start_response)
        direct_connect_answer = direct_connect.api_response(environ)
        if direct_connect_answer is not None:
            return direct_connect_answer(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        for answer_before_moto in (throttling.throttle_response, faults.fault_response):
            answer = answer_before_moto(environ)
            if answer is not None:
                return answer(environ, start_response)
        with item_writes.serialized(environ):
            return self.moto_app(environ, start_response)


class _QuietRequestHandler(MotoRequestHandler):
    # One log line per API call drowns test and lab output; errors are still logged.
    def log_request(self, code="-", size="-"):
        pass


class EndpointServer:
    """A threaded HTTP server with moto's API, the emulated behaviours and the control API."""

    def __init__(self, host="127.0.0.1", port=0, log_requests=False):
        handler = MotoRequestHandler if log_requests else _QuietRequestHandler
        self._server = make_server(host, port, EndpointApp(), threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ec2-endpoint", daemon=True)

    @property
    def host(self):
        """The address the server listens on."""
        return self._server.server_address[0]

    @property
    def port(self):
        """The TCP port the server listens on (the chosen one when asked for port 0)."""
        return self._server.server_address[1]

    @property
    def url(self):
        """The endpoint URL to hand to boto3 (a wildcard bind is reached through loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self):
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(host="127.0.0.1", port=0, log_requests=False, throttle=False):
    """install() and return a started EndpointServer (port 0 picks a free port; ``throttle``: on from the start)."""
    install()
    throttling.configure_startup(throttle)
    return EndpointServer(host, port, log_requests=log_requests).start()


def main(argv=None):
    """Run the endpoint in the foreground until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tools.endpoint", description="moto EC2 API with the localzones.failover emulated EC2 behaviours")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="TCP port, 0 for a free one (default 5000)")
    parser.add_argument("--log-requests", action="store_true", help="log one line per request")
    parser.add_argument("--throttle", action="store_true", help="throttle EC2 requests with EC2's token buckets (default off)")
    args = parser.parse_args(argv)

    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    server = serve(args.host, args.port, log_requests=args.log_requests, throttle=args.throttle)
    print(server.url, flush=True)
    # A timed wait keeps the main thread returning to the interpreter, where signal handlers run.
    while not stop_requested.wait(0.5):
        pass
    server.stop()
    return 0
