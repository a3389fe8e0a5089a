"""Expressions that let the database write parts of a representation as JSON.

A list embedded in a representation (a course's teachers and tests) is built by the database in
the same statement as the row it belongs to and passed through as text (``orjson.Fragment``):
one query, and no Python object per embedded row. Each expression writes JSON exactly as the API
writes the same value elsewhere (times as DRF's ISO 8601 in UTC with ``Z``).

The hot reads are written as SQL text once (``fetch``, ``ModelSelect``) and run through Django's
cursor, with PostgreSQL binding their parameters: only public APIs of Django and psycopg, nothing
a Django upgrade may change under them.
"""

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
        return json_datetime(sql), params * 4


def json_datetime(column: str) -> str:
    """``JSONDateTime`` as SQL text, for a statement written by hand: ``column`` is SQL for a
    ``timestamp with time zone`` (it appears four times)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {utc}) = {utc} "
        f"THEN '' ELSE to_char({utc}, '.US') END || 'Z'"
    )


def json_decimal_as_float(sql: str) -> str:
    """A ``numeric`` value of at most 15 significant digits as the JSON orjson writes for the same
    value read as a float (``85.0``, ``12.35``; ``null`` for NULL), as SQL text (``sql`` appears
    several times)."""
    return (
        f"CASE WHEN {sql} IS NULL THEN 'null' WHEN {sql} = trunc({sql}) THEN trunc({sql})::text || '.0' "
        f"ELSE trim_scale({sql})::text END"
    )


class Sql(str):
    """A value's JSON written by an SQL expression, in the parts ``json_text`` joins (a plain ``str``
    there is literal text)."""


class SqlBool(Sql):
    """A ``boolean`` column's JSON (``true``, ``false``, ``null``): written by a ``CASE`` that takes
    the literal text around it into its branches, so it costs no concatenation of its own."""


def json_time_text(sql: str) -> list:
    """A ``timestamp with time zone`` as the JSON string orjson writes for it (``OPT_UTC_Z``):
    ISO 8601 in UTC, microseconds only when there are some; as parts for ``json_text`` (its quotes
    join the literal text around it). ``to_char`` writes every field at a fixed width, whatever the
    session's ``DateStyle``."""
    iso = f"""to_char({sql} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return ['"', Sql(f"replace({iso}, '.000000', '')"), 'Z"']


def json_text(parts) -> str:
    """SQL text concatenating ``parts`` (literal ``str``, ``Sql`` expressions, ``SqlBool`` columns,
    or lists of them) into one text value: adjacent literal text is one SQL literal, and a boolean
    takes the literal text on both sides into its ``CASE``. Each ``||`` copies what is written so far,
    per row: the fewer, the cheaper a page of many rows."""
    flat: list = []
    for part in parts:
        flat.extend(part if isinstance(part, list) else [part])
    merged: list = []  # literal text (str) and expressions (Sql), alternating
    for part in flat:
        if merged and type(part) is str and type(merged[-1]) is str:
            merged[-1] += part
        else:
            merged.append(part)
    out: list[str] = []
    i = 0
    while i < len(merged):
        part = merged[i]
        if isinstance(part, SqlBool):
            before = out.pop()[1] if out and out[-1][0] == "text" else ""
            after = merged[i + 1] if i + 1 < len(merged) and type(merged[i + 1]) is str else ""
            i += 1 if after else 0
            branches = [before + word + after for word in ("true", "false", "null")]
            out.append(
                (
                    "sql",
                    f"CASE WHEN {part} THEN {_literal(branches[0])} WHEN NOT {part} THEN {_literal(branches[1])} "
                    f"ELSE {_literal(branches[2])} END",
                )
            )
        elif isinstance(part, Sql):
            out.append(("sql", str(part)))
        else:
            out.append(("text", part))
        i += 1
    return " || ".join(_literal(text) if kind == "text" else text for kind, text in out)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def fragment(text: str | None) -> orjson.Fragment:
    """JSON text from the database, embedded in a response as it is."""
    return orjson.Fragment(text if text is not None else "[]")


def cursor(connection, *, fast_times: bool = False, prepare: bool = False):
    """Django's cursor on ``connection`` (queries logged, errors translated, parameters bound by
    PostgreSQL as settings ask). With ``fast_times``, time stamps are read by psycopg's own loader,
    in C, instead of Django's, which is Python and called once per value: the same aware datetimes
    in UTC (Django sets the session's time zone to UTC), for a read of many rows. With ``prepare``,
    its statements are prepared where the connection allows it (``gradingsite.postgresql``,
    ``prepare_threshold`` in settings)."""
    django_cursor = connection.cursor()
    if fast_times:
        from psycopg.types.datetime import TimestamptzLoader

        # psycopg's adapters of this cursor alone (its documented API); psycopg puts its C loader in place.
        django_cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    if prepare:
        django_cursor.cursor.prepare = True
    return django_cursor


def fetch(
    sql: str, params, using: str = DEFAULT_DB_ALIAS, *, fast_times: bool = False, prepare: bool = False
) -> list[tuple]:
    """The rows of one statement written as SQL text (``%s`` or ``%(name)s`` parameters).

    ``prepare``: for a statement whose planning is a fair share of its cost, run often with the
    same text. psycopg prepares it on the connection's first run (a round trip more, once), and
    PostgreSQL plans it for its parameters' values five times, then, when that plan is no worse,
    once for all (its generic plan): measure before asking for it.
    """
    with cursor(connections[using], fast_times=fast_times, prepare=prepare) as c:
        c.execute(sql, params)
        return c.fetchall()


class ModelSelect:
    """Instances of ``model`` read by SQL text written once: ``SELECT`` every concrete field ``FROM``
    its table ``WHERE`` as given (``%s`` parameters).

    For a read on the hot path (the caller's user, loaded by every request): Django would build and
    compile a queryset's SQL on each run, which costs more than running it. Values get the
    conversions the ORM gives them (``Field.from_db_value``, JSON here; time stamps the same aware
    UTC datetimes, by psycopg's loader: ``fetch``'s ``fast_times``) and instances are made by
    ``Model.from_db``, as a queryset makes them. ``extra`` adds columns as an annotation would
    (attribute name → SQL, selected after the fields; its ``%s`` parameters come first). ``prepare``:
    as ``fetch``'s.
    """

    def __init__(self, model, where: str, *, extra: dict[str, str] | None = None, prepare: bool = False):
        fields = [f for f in model._meta.get_fields() if f.concrete and not f.many_to_many]
        quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
        columns = [f"{quote(model._meta.db_table)}.{quote(f.column)}" for f in fields]
        columns += [f"({sql}) AS {quote(name)}" for name, sql in (extra or {}).items()]
        self.model = model
        # The select list alone, for a statement that reads this model's row beside another's (``instance``).
        self.columns = ", ".join(columns)
        self.sql = f"SELECT {self.columns} FROM {quote(model._meta.db_table)} WHERE {where}"  # noqa: S608
        self.names = [f.attname for f in fields]
        self.extra = tuple(extra or ())
        self.width = len(columns)
        self.fields = fields
        self.prepare = prepare
        self._converted = [(i, f) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]

    def objects(self, *params, using: str = DEFAULT_DB_ALIAS) -> list:
        # Django's loader of time stamps, in Python, was a tenth of the CPU of a grade's two statements.
        rows = fetch(self.sql, params, using, fast_times=True, prepare=self.prepare)
        return [self.instance(row, using) for row in rows]

    def instance(self, row, using: str = DEFAULT_DB_ALIAS):
        """The instance of a row of ``columns`` (``width`` values), as ``objects`` makes it."""
        count = len(self.names)
        if self._converted:
            connection = connections[using]
            row = list(row)
            for i, field in self._converted:
                row[i] = field.from_db_value(row[i], None, connection)
        instance = self.model.from_db(using, self.names, row[:count] if self.extra else row)
        for name, value in zip(self.extra, row[count:], strict=True):
            setattr(instance, name, value)
        return instance
