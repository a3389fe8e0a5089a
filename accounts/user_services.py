"""Changes to user accounts made through the API: named functions, each one transaction."""

from django.db import IntegrityError, transaction

from accounts.models import SOCIAL_KEYS, User, normalize_email
from accounts.signals import user_deleting
from gradingsite.errors import Conflict

EMAIL_TAKEN = "A user with this email already exists."


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
    """Change a user's fields. The caller decides who may change ``email`` and ``is_admin``."""
    if "email" in changes:
        email = normalize_email(changes.pop("email"))
        if email != user.email:
            if User.objects.filter(email=email).exclude(pk=user.pk).exists():
                raise Conflict(EMAIL_TAKEN)
            user.email = email
    if "is_admin" in changes:
        is_admin = changes.pop("is_admin")
        user.is_superuser = is_admin
        user.is_staff = is_admin
    if "social" in changes:
        user.social = _clean_social(changes.pop("social"))
    for name in ("first_name", "last_name", "notify_by_email"):
        if name in changes:
            setattr(user, name, changes.pop(name))
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN) from None
    return user


@transaction.atomic
def user_delete(*, user: User, by=None, via: str = "api") -> None:
    """Delete an account. Its results as a student go with it, each leaving a "deleted" history line
    (``grading`` receives ``user_deleting``)."""
    user_deleting.send(sender=User, user=user, by=by, via=via)
    user.delete()
