"""Expressions that let the database write parts of a representation as JSON.

A list embedded in a representation (a course's teachers and tests) is built by the database in
the same statement as the row it belongs to and passed through as text (``orjson.Fragment``):
one query, and no Python object per embedded row. Each expression writes JSON exactly as the API
writes the same value elsewhere (times as DRF's ISO 8601 in UTC with ``Z``).
"""

import inspect

import orjson
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import CharField, Func, Subquery, TextField
from django.db.models.functions import Cast
from django.db.models.functions import JSONObject as DjangoJSONObject


class JSONObject(DjangoJSONObject):
    """Django's ``JSONObject`` with its keys in the order given: PostgreSQL's ``json_build_object``
    (Django's ``jsonb_build_object`` sorts them)."""

    def as_postgresql(self, compiler, connection, **extra_context):
        # Keys typed as text, so the statement can be prepared (server-side binding).
        copy = self.copy()
        copy.set_source_expressions(
            [Cast(e, TextField()) if i % 2 == 0 else e for i, e in enumerate(copy.get_source_expressions())]
        )
        return Func.as_sql(copy, compiler, connection, function="JSON_BUILD_OBJECT", **extra_context)


class JSONList(Subquery):
    """The rows of ``queryset`` as one JSON array, in the queryset's order; ``[]`` when it has none.

    ``queryset`` selects one column named ``json``, a ``JSONObject`` per row (``.values(json=...)``).
    The result is text, to be embedded as it is (``fragment``).
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, template=None, **extra_context):
        sql, params = super().as_sql(compiler, connection, template, **extra_context)
        # A sorted subquery feeds json_agg in its order.
        return f"COALESCE((SELECT json_agg(rows.json)::text FROM {sql} rows), '[]')", params  # noqa: S608


class JSONDateTime(Func):
    """A time stamp as DRF writes it: ISO 8601 in UTC, ``Z``, microseconds only when there are some."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        utc = f"({sql} AT TIME ZONE 'UTC')"
        text = (
            f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {utc}) = {utc} "
            f"THEN '' ELSE to_char({utc}, '.US') END || 'Z'"
        )
        return text, params * 4


def fragment(text: str | None) -> orjson.Fragment:
    """JSON text from the database, embedded in a response as it is."""
    return orjson.Fragment(text if text is not None else "[]")


def cursor(connection, *, binary: bool = False):
    """A Django cursor (queries logged, errors translated) over a psycopg cursor with server-side
    binding, so a statement run again and again on one connection is
    prepared there after a few runs (planned once, not on every run); with ``binary``, results are
    read in binary (ints, floats and time stamps decoded in C, nothing formatted by PostgreSQL).
    """
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    if binary:
        raw.format = psycopg.pq.Format.BINARY
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


# Stand-ins for a Statement's values while it is compiled: integers no id reaches (under bigint's maximum).
_STAND_IN = 9_100_000_000_000_000_000


class Statement:
    """A read on the hot path, compiled to SQL once per database and then run with new values.

    Django builds and compiles a queryset's SQL each time it is evaluated: for the caller's user
    (loaded by every request) or the course page (three correlated subqueries) that costs more than
    running it. ``build`` returns the queryset for integer values given by name (ids); it is called
    once per database with stand-in values, and each run puts the real ones in their places among
    the SQL's parameters. The SQL runs through ``cursor`` (prepared on PostgreSQL), and rows get the
    same conversions as the queryset's own. A queryset whose SQL depends on the values themselves
    (``pk__in=[...]``, a value that decides a branch) can't be a Statement: compiling refuses one
    whose stand-ins don't each appear once among its parameters.
    """

    def __init__(self, build):
        self.build = build
        self.names = list(inspect.signature(build).parameters)
        self._compiled: dict[str, tuple] = {}

    def _compile(self, using: str) -> tuple:
        stand_ins = {name: _STAND_IN + i for i, name in enumerate(self.names)}
        queryset = self.build(**stand_ins)
        query = queryset.query
        compiler = query.get_compiler(using)
        sql, params = compiler.as_sql()
        places = {index: name for index, value in enumerate(params) for name, v in stand_ins.items() if value == v}
        if sorted(places.values()) != sorted(self.names):
            raise ValueError(f"{self.build.__qualname__}: each value must appear once among the SQL's parameters")
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        if queryset._fields is not None:  # values(): named as ValuesIterable names them
            fields = [*query.extra_select, *query.values_select, *query.annotation_select]
        else:
            fields = [column.target.attname for column, _, _ in compiler.select]
        return sql, tuple(params), places, compiler, converters, fields, queryset.model

    def _run(self, using: str, values: dict) -> tuple[list, list[str]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        sql, params, places, compiler, converters, fields, model = compiled
        params = [values[places[i]] if i in places else param for i, param in enumerate(params)]
        with cursor(connections[using]) as c:
            c.execute(sql, params)
            rows = c.fetchall()
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        return rows, fields, model

    def rows(self, using: str = DEFAULT_DB_ALIAS, **values) -> list[dict]:
        """The rows of a ``values(...)`` queryset, as dicts keyed like ``values()`` gives them."""
        rows, fields, _ = self._run(using, values)
        return [dict(zip(fields, row, strict=True)) for row in rows]

    def objects(self, using: str = DEFAULT_DB_ALIAS, **values) -> list:
        """Model instances of a queryset of one model's fields (no ``values()``, no annotations)."""
        rows, fields, model = self._run(using, values)
        return [model.from_db(using, fields, row) for row in rows]
