"""Row versions: what ``ETag`` and ``If-Match`` speak of (``gradingsite.api.preconditions``).

A versioned row starts at version 1; every ``save()`` of a change adds one to it in the ``UPDATE``
itself (``version = version + 1``), so two writers can't both think they made version N + 1. Bulk
writes bump it the same way (``bump``).
"""

from django.db import models
from django.db.models import F


def bump():
    """The value that adds one to a row's version in an ``UPDATE`` (``save``, ``bulk_update``, ``update``)."""
    return F("version") + 1


class Versioned(models.Model):
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="One more with every change: the resource's ETag."
    )

    # Fields outside the API's representation: a save of only these is not a new version.
    unversioned_fields: frozenset[str] = frozenset()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if (
            self._state.adding
            or self.pk is None
            or (update_fields is not None and set(update_fields) <= self.unversioned_fields)
        ):
            super().save(*args, **kwargs)
            return
        if update_fields is not None and "version" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "version"]
        self.version = bump()
        super().save(*args, **kwargs)
        self.refresh_from_db(fields=["version"])
