"""The lists that the apps built on ``courses`` add to a course's representation.

A course's representation embeds data that an app above keeps (its tests are ``grading``'s), yet
``courses`` names none of that app's models, tables or fields: the app that owns the data registers
an ``Embed`` here from its ``AppConfig.ready()``, with the serializer that describes its rows
(``CourseSerializer`` declares the list with it), and ``courses.views`` puts each registered list in
the course's statements. Still one statement per read: the database writes every list as JSON next
to the course's row.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework.serializers import Serializer


@dataclass(frozen=True)
class Embed:
    """A list under ``key`` in a course's representation, after its teachers, one JSON object per row.

    ``rows(user)``: for ``courses.views.courses_for(user)``, the list's rows as a queryset that
    selects one column named ``json`` (``.values(json=JSONObject(...))``), sorted; ``OuterRef("pk")``
    is the course, ``OuterRef("my_role")`` the caller's role in it.

    ``rows_sql(user, course=..., role=...)``: the same rows as SQL text, for the course's statement
    written by hand: a ``SELECT`` of a column ``json`` in the same order, where ``course`` is SQL for
    the course's id and ``role`` for the caller's role in it. The text may differ only between
    admins and the others (the statement is written once for each), binds no parameters, and its
    table aliases are its own (``tests/test_sql.py`` compares the two for every kind of caller).
    """

    key: str
    rows: Callable[..., QuerySet]
    rows_sql: Callable[..., str]
    # The serializer of one row; without one the list is undeclared, and a course refuses it.
    serializer: type[Serializer] | None = None

    @property
    def column(self) -> str:
        """The name of the list's JSON text in a course's row."""
        return f"{self.key}_json"


# In the order they were registered: the order of their keys in the representation.
embeds: dict[str, Embed] = {}


def register(embed: Embed) -> None:
    """Add ``embed`` to every course's representation (from an ``AppConfig.ready()``)."""
    embeds[embed.key] = embed
