"""Expressions that let the database write parts of a representation as JSON, on PostgreSQL and SQLite.

A list embedded in a representation (a course's teachers and tests) is built by the database in
the same statement as the row it belongs to and passed through as text (``orjson.Fragment``):
one query, and no Python object per embedded row. Each expression writes JSON exactly as the API
writes the same value elsewhere (times as DRF's ISO 8601 in UTC with ``Z``, booleans as
``true``/``false``), so both databases give the same document.
"""

import orjson
from django.db.models import BooleanField, CharField, Func, Subquery, TextField


class JSONList(Subquery):
    """The rows of ``queryset`` as one JSON array, in the queryset's order; ``[]`` when it has none.

    ``queryset`` selects one column named ``json``, a ``JSONObject`` per row (``.values(json=...)``).
    The result is text, to be embedded as it is (``fragment``).
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, template=None, **extra_context):
        sql, params = super().as_sql(compiler, connection, template, **extra_context)
        if connection.vendor == "postgresql":
            # A sorted subquery feeds json_agg in its order.
            return f"COALESCE((SELECT json_agg(rows.json)::text FROM {sql} rows), '[]')", params  # noqa: S608
        return f"(SELECT json_group_array(json(rows.json)) FROM {sql} rows)", params  # noqa: S608


class JSONDateTime(Func):
    """A time stamp as DRF writes it: ISO 8601 in UTC, ``Z``, microseconds only when there are some."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        utc = f"({sql} AT TIME ZONE 'UTC')"
        text = (
            f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {utc}) = {utc} "
            f"THEN '' ELSE to_char({utc}, '.US') END || 'Z'"
        )
        return text, params * 4

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]" on SQLite.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(replace({sql}, ' ', 'T') || 'Z')", params


class JSONBoolean(Func):
    """A boolean as JSON ``true``/``false`` (SQLite would write its 1/0)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json(CASE WHEN {sql} THEN 'true' ELSE 'false' END)", params


def fragment(text: str | None) -> orjson.Fragment:
    """JSON text from the database, embedded in a response as it is."""
    return orjson.Fragment(text if text is not None else "[]")
