"""What every input serializer of the API shares."""

import keyword
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from rest_framework import serializers

from gradingsite.sql import fragment
from gradingsite.validators import validate_name, validate_text, validate_time_zone


class StrictInputMixin:
    """Refuse keys the serializer doesn't know (a typo must not be silently ignored).

    Keys listed in ``ignored_fields`` are the read-only fields of the resource's representation:
    a client may send back what it read (``id``, ``teachers``…) and they are ignored.
    """

    ignored_fields: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = set(self.fields) | set(self.ignored_fields)
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string field that takes only JSON strings: ``5`` or ``true`` where text belongs is a 400."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class NameField(StrictCharField):
    """A name a person types (of a user, a course, a test, a category): one line of text, no control
    characters (``gradingsite.validators.validate_name``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_name)


class FreeTextField(StrictCharField):
    """Free text (a course's details): lines and tabs, no other control characters
    (``gradingsite.validators.validate_text``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_text)


class TimeZoneField(StrictCharField):
    """An IANA time zone name (``gradingsite.validators.validate_time_zone``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.validators.append(validate_time_zone)


class StrictEmailField(serializers.EmailField):
    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


# The largest id PostgreSQL's bigint holds: a larger one names no row, and must not reach the database.
MAX_ID = 2**63 - 1


def _is_json_integer(data) -> bool:
    return isinstance(data, int) and not isinstance(data, bool)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON ``true``/``false``: ``0``, ``"yes"`` or ``null`` where a boolean belongs is a 400."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictDateTimeField(serializers.DateTimeField):
    """A time as an ISO 8601 string with its time zone (``2026-12-01T17:00:00Z``): a number, or a
    time without a zone, is a 400. Answered in UTC."""

    default_error_messages = {"naive": "Give the time zone (Z or an offset such as +01:00)."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", format="ISO 8601")
        value = super().to_internal_value(data)
        return value

    def enforce_timezone(self, value):
        if value.tzinfo is None:
            self.fail("naive")
        return super().enforce_timezone(value)


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers (not ``"5"``, ``5.0`` or ``true``)."""

    def to_internal_value(self, data):
        if not _is_json_integer(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """Only JSON numbers (not ``"85"`` or ``true``), then DRF's digit and range checks."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)

    def validate_precision(self, value):
        # Name the rule a person breaks (0.333 has too many decimals, 123456 too many whole digits),
        # rather than DRF's "too many digits in total" for both.
        if self.max_whole_digits is not None and value.adjusted() >= self.max_whole_digits:
            self.fail("max_whole_digits", max_whole_digits=self.max_whole_digits)
        if self.decimal_places is not None and value != value.quantize(Decimal(1).scaleb(-self.decimal_places)):
            self.fail("max_decimal_places", max_decimal_places=self.decimal_places)
        return super().validate_precision(value)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id as a JSON integer; one outside the database's range is simply no such object."""

    def to_internal_value(self, data):
        if not _is_json_integer(data):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


_FLAG_VALUES = {"true": True, "1": True, "false": False, "0": False}


def query_flag(request, name: str) -> bool:
    """A boolean query parameter such as ``?force=true``: ``true``/``1`` or ``false``/``0``; absent is false."""
    raw = request.query_params.get(name)
    if raw is None:
        return False
    try:
        return _FLAG_VALUES[raw.strip().lower()]
    except KeyError:
        raise serializers.ValidationError({name: ["Must be true or false."]}) from None


# Output declarations: what the fast path reads from an output serializer.

# Fields whose DRF representation the renderer (``gradingsite.api.renderers``) writes identically from
# the database's value: ints, strings, booleans, UTC datetimes (``...Z``), dates, floats, and decimals
# as numbers (``coerce_to_string=False``; DRF's quantize is a no-op on a column of the same places).
_AS_STORED = (
    serializers.IntegerField,
    serializers.CharField,
    serializers.BooleanField,
    serializers.ChoiceField,
    serializers.DateTimeField,
    serializers.DateField,
    serializers.FloatField,
    serializers.DecimalField,
    serializers.PrimaryKeyRelatedField,
    serializers.ListField,  # of a JSON column holding a list of such values (a test's allowed_extensions)
)


class Output:
    """An output serializer's fields as the fast path reads them: the serializer is THE declaration
    of a representation (keys, order, types, nullability, what the schema says); this reads it once.

    ``model`` is the model the representation's columns are on (a ``ModelSerializer``'s own by
    default). Each field's column is its ``source`` (``a.b`` → ``a__b``), a foreign key's being its
    ``attname`` (``course_id``). A nested serializer over a relation reads its fields from the related
    columns (``user__email``); over a ``JSONField`` it reads its keys from that one value (a missing
    key or a non-object value gives nulls, as DRF gives for a nullable field).

    - ``columns``: the names to pass to ``values_list()`` (or to select), in order;
    - ``row(tuple)``: the representation of a row with those columns, in that order;
    - ``rows(iterable)``: the list of the representations of such rows (one comprehension);
    - ``of(obj)``: the representation of a model instance (or anything with those attributes).

    ``computed`` names fields whose value depends on the caller (a ``SerializerMethodField`` such as a
    test's ``results_version``): the query computes each, by the rule the method applies, as a column
    of the field's name, which ``row`` and ``rows`` read. Such a representation has no ``of`` (None):
    an object alone doesn't say who is asking.

    ``json_lists`` names list fields (``many=True`` serializers) that the database writes as JSON
    text (``gradingsite.sql.JSONList``) in a column, or an attribute of an object, named
    ``<key>_json``: embedded as they are (``fragment``), no Python object per element.

    These are specialised functions built once (a dict display, no per-field loop), so a long list
    costs what a hand-written one would; ``tests/test_representation.py`` checks that the rendered
    bytes equal DRF's own ``serializer.data`` for every declaration. A field this can't read as the
    database gives it (a ``SerializerMethodField``, a decimal as a string) is a ``TypeError`` here.
    """

    def __init__(
        self, serializer_class, *, model=None, computed: tuple[str, ...] = (), json_lists: tuple[str, ...] = ()
    ):
        self.serializer_class = serializer_class
        self.model = model or serializer_class.Meta.model
        self.keys = tuple(serializer_class().fields)
        self.computed = tuple(computed)
        self.json_lists = tuple(json_lists)
        if unknown := set(self.computed + self.json_lists) - set(self.keys):
            raise TypeError(f"{serializer_class.__name__} has no fields {sorted(unknown)}")
        columns: list[str] = []
        row_display = self._display(serializer_class, self.model, "", (), columns, namespace := {"_fragment": fragment})
        self.columns = tuple(columns)
        self.row = _compile("r", row_display[0], namespace)
        self.rows = _compile("rows", f"[{row_display[0]} for r in rows]", namespace)
        self.of = None if self.computed else _compile("o", row_display[1], namespace)

    def _display(self, serializer_class, model, prefix, attrs, columns, namespace) -> tuple[str, str]:
        """Dict displays (for a row tuple ``r``, for an object ``o``) of ``serializer_class``'s fields."""
        row_items, object_items = [], []
        for key, field in serializer_class().fields.items():
            if not prefix and key in self.computed:
                row_items.append(f"{key!r}: r[{len(columns)}]")
                columns.append(key)
                continue
            if not prefix and key in self.json_lists:
                if not isinstance(field, serializers.ListSerializer):
                    raise TypeError(f"{serializer_class.__name__}.{key}: only a list is written as JSON text")
                row_items.append(f"{key!r}: _fragment(r[{len(columns)}])")
                object_items.append(f"{key!r}: _fragment(o.{key}_json)")
                columns.append(f"{key}_json")
                continue
            names = field.source.split(".")
            model_field, path = _model_field(model, names)
            target = model_field.related_model if model_field is not None else None
            if isinstance(field, serializers.ListSerializer):
                raise TypeError(f"{serializer_class.__name__}.{key}: a list of objects isn't read from columns")
            if isinstance(field, serializers.BaseSerializer):
                if model_field is not None and model_field.is_relation:
                    if model_field.null:
                        raise TypeError(f"{serializer_class.__name__}.{key}: a nullable relation isn't supported")
                    row, obj = self._display(
                        type(field), target, f"{prefix}{'__'.join(names)}__", (*attrs, *names), columns, namespace
                    )
                else:  # a JSON object in one column
                    converter = f"_json{len(namespace)}"
                    namespace[converter] = _json_object(type(field))
                    row = f"{converter}(r[{len(columns)}])"
                    obj = f"{converter}(o.{'.'.join((*attrs, *path))})"
                    columns.append(prefix + "__".join(path))
            elif isinstance(field, _AS_STORED) and not getattr(field, "coerce_to_string", False):
                row, obj = f"r[{len(columns)}]", f"o.{'.'.join((*attrs, *path))}"
                columns.append(prefix + "__".join(path))
            else:
                raise TypeError(f"{serializer_class.__name__}.{key}: {type(field).__name__} isn't read as stored")
            row_items.append(f"{key!r}: {row}")
            object_items.append(f"{key!r}: {obj}")
        return "{" + ", ".join(row_items) + "}", "{" + ", ".join(object_items) + "}"


# The serializer of a representation that code computes (a report) declares it and builds it:
# ``build(**values)`` is the dict of its keys in order, each value by keyword as the API shows it
# (``from`` as ``from_``); a key left out or unknown is a TypeError, but a ``required=False`` one may be
# left out (then absent). One dict display, compiled with the class. (No docstring: drf-spectacular
# would describe every report with it.)
class ReportSerializer(serializers.Serializer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = cls().fields
        names = {key: f"{key}_" if keyword.iskeyword(key) else key for key in fields}
        optional = [names[key] for key, field in fields.items() if not (field.required or field.read_only)]
        parameters = ", ".join(name + ("=_absent" if name in optional else "") for name in names.values())
        display = "{" + ", ".join(f"{key!r}: {name}" for key, name in names.items()) + "}"
        if optional:
            display = f"{{k: v for k, v in {display}.items() if v is not _absent}}"
        cls.build = staticmethod(_compile(f"*, {parameters}", display, {"_absent": object()}))


def _model_field(model, names: list[str]):
    """The model field at the end of ``names`` (None for an annotation or a property) and the path to
    its column (a foreign key's ``attname``)."""
    field = None
    for name in names:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None, names
        model = field.related_model
    return field, [*names[:-1], field.attname if field.concrete else names[-1]]


def _json_object(serializer_class):
    keys = tuple(serializer_class().fields)

    def convert(value) -> dict:
        value = value if isinstance(value, dict) else {}
        return {key: value.get(key) for key in keys}

    return convert


def _compile(argument: str, display: str, namespace: dict):
    # The display is built above from field names the serializer declares, never from input.
    exec(f"def build({argument}):\n    return {display}", namespace)  # noqa: S102
    return namespace.pop("build")
