"""Signals ``accounts`` sends to the apps built on it (which it doesn't import)."""

from django.dispatch import Signal

# Sent by ``user_services.user_delete`` inside its transaction, before the account's row goes, with
# ``user``, ``by`` (who deletes it) and ``via``. A receiver removes what other apps keep about the
# account the way those apps must (``grading`` deletes the user's results, writing their history).
user_deleting = Signal()
