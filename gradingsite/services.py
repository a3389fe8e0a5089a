"""What every app's services share: writing a change to a row.

Imports no app: every app's services may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from django.db import DatabaseError, models

from gradingsite.errors import Conflict

M = TypeVar("M", bound=models.Model)


def model_update(*, instance: M, fields: Iterable[str], data: Mapping) -> tuple[M, bool]:
    """Give ``instance`` the values ``data`` has for ``fields``, and save those that differ, only those.

    A field of ``fields`` missing from ``data`` is left as it is; keys of ``data`` outside ``fields``
    are ignored. A foreign key is compared by id (``data`` holds the related object or its id), so
    the related row is never loaded. When a value differs, one ``UPDATE`` writes the fields that
    changed, the row's ``auto_now`` fields (``updated_at``) and, on a versioned row, one more
    version (``gradingsite.versions.Versioned.save``; not for a change of only its unversioned
    fields). When none differs nothing is written and no query is run: the version stays.

    Returns ``(instance, has_updated)``. The values compared are the instance's, as it was read: a
    caller that has already set the new ones on it (a ModelForm does) must first reload those
    fields. ``Conflict`` when the row was deleted meanwhile.
    """
    opts = instance._meta
    changed: list[str] = []
    for name in fields:
        if name not in data:
            continue
        field = opts.get_field(name)
        if not field.concrete or field.many_to_many:
            raise ValueError(f"model_update writes a row's own columns, not {name!r}.")
        value = data[name]
        if field.is_relation:
            related_id = value.pk if isinstance(value, models.Model) else value
            if getattr(instance, field.attname) == related_id:
                continue
            setattr(instance, name if isinstance(value, models.Model) else field.attname, value)
        else:
            if getattr(instance, field.attname) == value:
                continue
            setattr(instance, field.attname, value)
        changed.append(field.name)
    if not changed:
        return instance, False
    auto_now = [f.name for f in opts.concrete_fields if getattr(f, "auto_now", False) and f.name not in changed]
    try:
        instance.save(update_fields=[*changed, *auto_now])
    except DatabaseError as exc:
        if type(exc) is not DatabaseError:  # a constraint, a lost connection: the caller's to answer
            raise
        # Django's own error for an UPDATE that found no row.
        raise Conflict(f"This {opts.verbose_name} was deleted meanwhile.") from None
    return instance, True
