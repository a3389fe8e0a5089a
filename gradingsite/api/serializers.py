"""What every input serializer of the API shares."""

from rest_framework import serializers


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


class StrictEmailField(serializers.EmailField):
    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


def query_flag(request, name: str) -> bool:
    """A boolean query parameter: ``?force=true`` / ``1`` / ``yes``."""
    return request.query_params.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
