"""Outgoing email: the only module that sends mail.

With ``settings.SENDGRID_API_KEY`` set, mail goes through SendGrid's v3 API with the official
``sendgrid`` package, to ``settings.SENDGRID_API_HOST``, with a timeout of
``settings.SENDGRID_TIMEOUT_SECONDS``. Without a key (development) the message is written to
the log instead. Nothing about a message's content is logged when real email is on.

- ``send_login_code``: one message, now; a failure, refusal or timeout raises ``EmailUnavailable``
  (a 503 in the API).
- ``send_batch``: one request carrying up to 1,000 personalized copies of a message (the worker's
  result notices); raises ``EmailRetryLater`` when SendGrid may take it later (429, 5xx, timeout,
  unreachable) and ``EmailRejected`` when it refused the request itself (any other 4xx).
"""

import http.client
import json
import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from gradingsite.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# The HTTP client under the SendGrid SDK logs request payloads (our codes) and headers (the API
# key) at DEBUG; keep it above that whatever the root level is.
logging.getLogger("python_http_client").setLevel(logging.WARNING)

LOGIN_CODE_SUBJECT = "Your sign-in code"


class EmailUnavailable(ServiceUnavailable):
    default_detail = "The sign-in code could not be emailed right now. Please try again in a minute."


def login_code_text(code: str, minutes: int) -> str:
    return (
        f"Your sign-in code is {code}\n"
        "\n"
        f"Enter it on the sign-in page within {minutes} minutes. It works once; asking for a new "
        "code makes this one stop working.\n"
        "\n"
        "If you did not ask to sign in, you can ignore this email: nobody can sign in without the "
        "code, and it expires on its own. Never share it with anyone.\n"
    )


def send_login_code(to_email: str, code: str) -> None:
    """Emails ``code`` to ``to_email``; raises ``EmailUnavailable`` if it could not be sent."""
    minutes = settings.LOGIN_CODE_MINUTES
    if not settings.SENDGRID_API_KEY:
        logger.info("Email is off (no SENDGRID_API_KEY): sign-in code for %s is %s", to_email, code)
        return
    _send(to_email, LOGIN_CODE_SUBJECT, login_code_text(code, minutes))


def _send(to_email: str, subject: str, text: str) -> None:
    message = Mail(
        from_email=settings.DEFAULT_FROM_EMAIL,
        to_emails=to_email,
        subject=subject,
        plain_text_content=text,
    )
    client = SendGridAPIClient(api_key=settings.SENDGRID_API_KEY, host=settings.SENDGRID_API_HOST)
    # The SDK has no timeout unless one is set on its HTTP client.
    client.client.timeout = settings.SENDGRID_TIMEOUT_SECONDS
    try:
        client.send(message)
    except HTTPError as exc:
        logger.error("SendGrid refused an email: HTTP %s", exc.status_code)
        raise EmailUnavailable from None
    except TimeoutError:
        logger.error("SendGrid did not answer within %s s", settings.SENDGRID_TIMEOUT_SECONDS)
        raise EmailUnavailable from None
    except (OSError, http.client.HTTPException) as exc:
        # URLError (refused, DNS) is an OSError; a dropped connection is either.
        logger.error("SendGrid could not be reached: %s", type(exc).__name__)
        raise EmailUnavailable from None


class EmailRetryLater(Exception):
    """SendGrid did not take the request now (429, 5xx, timeout, unreachable): try again later."""


class EmailRejected(Exception):
    """SendGrid refused the request (4xx other than 429): sending it again would not help."""


@dataclass(frozen=True)
class Personalization:
    """One recipient of a batch: their address and the values of the message's substitution tags."""

    email: str
    substitutions: dict[str, str]
    custom_args: dict[str, str] = field(default_factory=dict)


def render(template: str, substitutions: dict[str, str]) -> str:
    """The text one recipient reads: each tag replaced by its value (as SendGrid does), in one pass."""
    if not substitutions:
        return template
    tags = re.compile("|".join(re.escape(tag) for tag in sorted(substitutions, key=len, reverse=True)))
    return tags.sub(lambda match: substitutions[match.group()], template)


def send_batch(
    *, subject: str, text: str, personalizations: list[Personalization], custom_args: dict[str, str]
) -> None:
    """Send one request with a personalized copy of ``subject``/``text`` for each personalization.

    ``custom_args`` go with every copy (SendGrid reports them in its events), so a request sent
    twice is recognisable by them. Without an API key each copy is written to the log.
    """
    if not settings.SENDGRID_API_KEY:
        for p in personalizations:
            logger.info(
                "Email is off (no SENDGRID_API_KEY): to %s\nSubject: %s\n\n%s",
                p.email,
                render(subject, p.substitutions),
                render(text, p.substitutions),
            )
        return
    body = {
        "from": {"email": settings.DEFAULT_FROM_EMAIL},
        "subject": subject,
        "content": [{"type": "text/plain", "value": text}],
        "personalizations": [
            {"to": [{"email": p.email}], "substitutions": p.substitutions, "custom_args": p.custom_args}
            for p in personalizations
        ],
        "custom_args": custom_args,
        "tracking_settings": {"click_tracking": {"enable": False}},
    }
    client = SendGridAPIClient(api_key=settings.SENDGRID_API_KEY, host=settings.SENDGRID_API_HOST)
    try:
        client.client.mail.send.post(request_body=body, timeout=settings.SENDGRID_TIMEOUT_SECONDS)
    except HTTPError as exc:
        reason = f"SendGrid answered HTTP {exc.status_code}: {_error_messages(exc.body)}"
        if exc.status_code == 429 or exc.status_code >= 500:
            raise EmailRetryLater(reason) from None
        raise EmailRejected(reason) from None
    except TimeoutError:
        raise EmailRetryLater(f"SendGrid did not answer within {settings.SENDGRID_TIMEOUT_SECONDS} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise EmailRetryLater(f"SendGrid could not be reached ({type(exc).__name__})") from None


def _error_messages(body) -> str:
    """SendGrid's error messages from its JSON answer, or the start of whatever it answered."""
    try:
        errors = json.loads(body)["errors"]
        return "; ".join(str(e.get("message")) + (f" ({e['field']})" if e.get("field") else "") for e in errors)
    except (TypeError, ValueError, KeyError, AttributeError):
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
        return text[:200] or "no details"
