"""Logging filters."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx (a refused or missing page) is logged as one line: Django attaches the exception that
    caused it (PermissionDenied, a bad request), whose traceback says nothing about a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
