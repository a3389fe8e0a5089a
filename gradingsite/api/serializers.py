"""What every input serializer of the API shares."""

from decimal import Decimal

from rest_framework import serializers

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
