"""Domain errors: raised by services and the policy, mapped to HTTP statuses in one place.

The API's exception handler turns them into ``{"detail": ...}`` (or field errors) with their
status; the admin shows their message.
"""


class DomainError(Exception):
    status_code = 400
    default_detail = "The request could not be processed."

    def __init__(self, detail=None):
        self.detail = detail if detail is not None else self.default_detail
        super().__init__(self.detail if isinstance(self.detail, str) else repr(self.detail))


class Invalid(DomainError):
    """Input that breaks a rule. ``detail`` is a message or a ``{field: [messages]}`` dict."""

    status_code = 400
    default_detail = "Invalid input."


class Conflict(DomainError):
    """The request conflicts with data that exists (a duplicate, a protected delete)."""

    status_code = 409
    default_detail = "This conflicts with existing data."


class NotAllowed(DomainError):
    status_code = 403
    default_detail = "You do not have permission to perform this action."


class PreconditionFailed(DomainError):
    """A conditional write (If-Match) whose condition no longer holds: nothing was written."""

    status_code = 412
    default_detail = "The resource changed since you read it."


class ServiceUnavailable(DomainError):
    """An outside service the request depends on failed or timed out; the client may retry."""

    status_code = 503
    default_detail = "A service this request depends on is unavailable; try again shortly."
