"""Changes to user accounts made through the API: named functions, each one transaction."""

from django.db import IntegrityError, transaction

from accounts.models import SOCIAL_KEYS, User, normalize_email
from accounts.signals import user_deleting
from gradingsite.errors import Conflict
from gradingsite.services import model_update

EMAIL_TAKEN = "A user with this email already exists."
# The fields ``user_update`` writes (``is_admin`` is ``is_superuser`` and ``is_staff``).
_UPDATED_FIELDS = ("email", "first_name", "last_name", "social", "notify_by_email", "is_superuser", "is_staff")


def _clean_social(social: dict | None) -> dict:
    return {key: value for key, value in (social or {}).items() if key in SOCIAL_KEYS and value is not None}


@transaction.atomic
def user_create(
    *, email: str, first_name: str = "", last_name: str = "", social: dict | None = None, is_admin: bool = False
) -> User:
    """A new user. ``Conflict`` when the email (compared case-insensitively) is taken."""
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise Conflict(EMAIL_TAKEN)
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email,
                first_name=first_name,
                last_name=last_name,
                social=_clean_social(social),
                is_superuser=is_admin,
                is_staff=is_admin,
            )
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN) from None


@transaction.atomic
def user_update(*, user: User, **changes) -> User:
    """Change a user's fields; only those that differ are written (``model_update``). The caller
    decides who may change ``email`` and ``is_admin``."""
    if "email" in changes:
        changes["email"] = email = normalize_email(changes["email"])
        if email != user.email and User.objects.filter(email=email).exclude(pk=user.pk).exists():
            raise Conflict(EMAIL_TAKEN)
    if "is_admin" in changes:
        changes["is_superuser"] = changes["is_staff"] = changes.pop("is_admin")
    if "social" in changes:
        changes["social"] = _clean_social(changes["social"])
    try:
        with transaction.atomic():
            model_update(instance=user, fields=_UPDATED_FIELDS, data=changes)
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN) from None
    return user


@transaction.atomic
def user_delete(*, user: User, by=None, via: str = "api") -> None:
    """Delete an account. Its results as a student go with it, each leaving a "deleted" history line
    (``grading`` receives ``user_deleting``)."""
    user_deleting.send(sender=User, user=user, by=by, via=via)
    user.delete()
