"""The API's input and output shapes of users."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts import policy
from accounts.models import User, normalize_email
from gradingsite.api.serializers import (
    NameField,
    Output,
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictInputMixin,
)


class SocialSerializer(StrictInputMixin, serializers.Serializer):
    """A user's profiles elsewhere: each an optional string (a URL or a handle)."""

    facebook = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=500)
    twitter = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=500)
    github = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=500)
    website = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=500)


class UserSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)


class UserSerializer(UserSummarySerializer):
    """A user as the API shows it. ``is_admin`` is the Django superuser flag."""

    social = SocialSerializer(read_only=True)
    is_admin = serializers.BooleanField(source="is_superuser", read_only=True)
    notify_by_email = serializers.BooleanField(
        read_only=True, help_text="Email this user when their results are published or changed."
    )
    version = serializers.IntegerField(
        read_only=True, help_text="One more with every change; the ETag of the resource."
    )


@extend_schema_serializer(component_name="UserCreate")
class UserCreateSerializer(StrictInputMixin, serializers.Serializer):
    """``POST /api/users/``: the email is required and unique (case-insensitively)."""

    ignored_fields = ("id", "version")

    email = StrictEmailField(max_length=254)
    first_name = NameField(max_length=150, allow_blank=True)
    last_name = NameField(max_length=150, allow_blank=True)
    social = SocialSerializer(required=False)
    is_admin = StrictBooleanField(required=False, default=False)


@extend_schema_serializer(component_name="UserUpdate")
class UserUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """``PUT``/``PATCH /api/users/{id}/``. Only an admin may change ``email`` or ``is_admin``."""

    ignored_fields = ("id", "version")

    email = StrictEmailField(max_length=254, required=False)
    first_name = NameField(max_length=150, allow_blank=True)
    last_name = NameField(max_length=150, allow_blank=True)
    social = SocialSerializer(required=False)
    is_admin = StrictBooleanField(required=False)
    notify_by_email = StrictBooleanField(
        required=False, help_text="Only the user themself may change it: email me about my results."
    )

    def validate(self, attrs):
        """Who may change which field: the policy's (``accounts.policy``) rules, asked here because
        they depend on the body. A field the caller may not change is a 400 on it; sending its current
        value is no change. The context names the caller (``actor``) and the ``user`` changed."""
        actor, user = self.context["actor"], self.context["user"]
        errors: dict[str, list[str]] = {}
        if not policy.can_change_account_flags(actor):
            if "email" in attrs and normalize_email(attrs["email"]) != user.email:
                errors["email"] = ["Only an admin may change the email address."]
            if "is_admin" in attrs and attrs["is_admin"] != user.is_superuser:
                errors["is_admin"] = ["Only an admin may change is_admin."]
        changed_notify = "notify_by_email" in attrs and attrs["notify_by_email"] != user.notify_by_email
        if changed_notify and not policy.can_change_preferences(actor, user):
            errors["notify_by_email"] = ["Only the user themself may change notify_by_email."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# The fast path of the output serializers above (``gradingsite.api.serializers.Output``).
USER = Output(UserSerializer, model=User)
USER_SUMMARY = Output(UserSummarySerializer, model=User)
USER_SUMMARY_FIELDS = USER_SUMMARY.keys


def user_data(user: User) -> dict:
    """The ``User`` representation (``UserSerializer``) of ``user``."""
    return USER.of(user)
