# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exception hierarchy shared by the modules and the monitor daemon.

Every failure the core logic can anticipate is one of these, carrying a message
written for the operator. Callers turn them into one clear error (a module's
``fail_json``, a daemon log line) instead of a traceback.
"""

from __future__ import annotations


class FailoverError(Exception):
    """Base class of every error raised by the core logic."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details
        # Outcomes of the plan actions that had already run when this error
        # stopped the plan, so callers can report a partial change truthfully.
        self.completed = ()
        # The plan action whose call raised this error (None when no action did).
        self.failed_action = None
        # The plan's other actions, never made because the plan stopped at failed_action.
        self.not_applied = ()


class ValidationError(FailoverError):
    """An input is malformed or inconsistent; nothing was changed."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("; ".join(self.problems), problems=self.problems)


class RouteConflictError(FailoverError):
    """A route this project does not own occupies a destination it manages."""

    def __init__(self, conflicts):
        self.conflicts = list(conflicts)
        described = "; ".join(conflict.describe() for conflict in self.conflicts)
        super().__init__(
            "refusing to change any route: %s. These routes were not created by this "
            "failover; remove or move them by hand, then run again." % described,
            conflicts=[conflict.as_dict() for conflict in self.conflicts],
        )


class AwsApiError(FailoverError):
    """An AWS API call failed after the client's retries.

    ``service`` and ``operation`` are AWS's names ("EC2", "CreateRoute"), ``code``
    the error code AWS answered, or the exception's class name when no answer
    came (a timeout, a refused connection).
    """

    def __init__(self, service, operation, code, message, latency_ms=None, request_id=None):
        self.service = service
        self.operation = operation
        self.code = code
        self.latency_ms = latency_ms
        super().__init__(
            "%s %s failed: %s: %s" % (service, operation, code, message),
            service=service,
            operation=operation,
            code=code,
            request_id=request_id,
        )


class LeaseLostError(FailoverError):
    """The monitor is no longer the lease's writer: no further route call was started.

    Raised by ``ec2.apply_plan`` when its ``may_write`` says no before a call; like
    any failure of a plan it carries ``completed`` (the calls already applied).
    """

    def __init__(self, message="this monitor is no longer the writer of its failover group (its lease lapsed or passed to "
                               "another monitor); no further route call was started"):
        super().__init__(message)


class ProbeError(FailoverError):
    """A probe could not be set up (bad target, bad source address, no permission).

    An unreachable target is not an error: it is reported as 100% loss.
    """
