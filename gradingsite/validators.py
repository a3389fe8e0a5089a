"""Rules for what a person types, in one place: the models declare them (so every admin form checks
them) and the API's fields run the same functions (``gradingsite.api.serializers``).

Each raises Django's ``ValidationError``; DRF reports it as a field error like its own.
"""

import unicodedata
from functools import cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError

# Unicode categories refused in a name: Cc, the control characters (NUL, tab, line feed, carriage
# return, the other C0 and the C1 codes such as U+0085 "next line"), Zl (U+2028, the line separator)
# and Zp (U+2029, the paragraph separator). A name is one line of visible text: these break lines in
# CSV files, emails and the admin's tables, or show as nothing at all.
REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})

NAME_MESSAGE = "Must not contain control characters or line breaks (found %(char)s at character %(position)s)."
TEXT_MESSAGE = (
    "Must not contain control characters other than line breaks and tabs (found %(char)s at character %(position)s)."
)


def _refuse(value: str, message: str, index: int) -> None:
    raise ValidationError(
        message,
        code="control_character",
        params={"char": f"U+{ord(value[index]):04X}", "position": index + 1},
    )


def validate_name(value: str) -> None:
    """A name a person types (a user's first and last name, a course's, a test's, a category's):
    no character of ``REFUSED_CATEGORIES``."""
    for index, char in enumerate(value):
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            _refuse(value, NAME_MESSAGE, index)


def validate_text(value: str) -> None:
    """Free text (a course's details): as a name, but line feeds and tabs are kept, and so is a carriage
    return that starts a CRLF line break (as a browser sends a textarea's lines)."""
    for index, char in enumerate(value):
        if char in "\n\t" or (char == "\r" and value[index + 1 : index + 2] == "\n"):
            continue
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            _refuse(value, TEXT_MESSAGE, index)


# Listed by ``zoneinfo`` but no place's time: ``localtime`` is whatever zone the server's machine is
# set to, and ``Factory`` a placeholder whose abbreviation reads "-00".
NOT_TIME_ZONES = frozenset({"localtime", "Factory"})


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names a course may take: ``zoneinfo``'s, less ``NOT_TIME_ZONES``."""
    return frozenset(available_timezones()) - NOT_TIME_ZONES


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError("Not a known IANA time zone (like 'Europe/Paris' or 'UTC').", code="invalid_time_zone")
