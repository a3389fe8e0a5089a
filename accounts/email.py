"""Outgoing email: the only module that sends mail.

With ``settings.SENDGRID_API_KEY`` set, mail goes through SendGrid's v3 API with the official
``sendgrid`` package, to ``settings.SENDGRID_API_HOST``, with a timeout of
``settings.SENDGRID_TIMEOUT_SECONDS``. Without a key (development) the login code is written to
the log instead. A failure, refusal or timeout raises ``EmailUnavailable`` (a 503 in the API);
nothing about the message's content is logged when real email is on.
"""

import http.client
import logging

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
