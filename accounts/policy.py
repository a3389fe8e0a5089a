"""Who may act on accounts: the rules that need nothing but the people themselves.

The authorization policy is ``courses.policy``; these are the part of it that ``accounts`` uses
itself (it can't ask ``courses``, which builds on it). ``courses.policy`` re-exports them, so
everything outside ``accounts`` asks that one module.
"""


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_superuser)


def is_signed_in(user, obj=None) -> bool:
    """Anyone with a valid token (list and create courses, read one, read one's own profile)."""
    return bool(user and user.is_authenticated)


def can_act_on_user(actor, target) -> bool:
    """Read or change a user's own record: the user themself or an admin."""
    return is_admin(actor) or (actor.is_authenticated and actor.pk == target.pk)


def can_change_account_flags(actor) -> bool:
    """Change a user's ``email`` or ``is_admin``: admins only, even on their own record."""
    return is_admin(actor)


def can_change_preferences(actor, target) -> bool:
    """Change a user's own preferences (``notify_by_email``): that user alone, not even an admin."""
    return actor is not None and actor.is_authenticated and actor.pk == target.pk


def can_list_users(actor, obj=None) -> bool:
    return is_admin(actor)


def can_create_users(actor, obj=None) -> bool:
    return is_admin(actor)


def sees_unpublished_results(actor, student) -> bool:
    """Reading a student's results: an admin sees unpublished ones; the student themself does not."""
    return is_admin(actor)
