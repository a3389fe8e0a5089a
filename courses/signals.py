"""Signals ``courses`` sends to the apps built on it (which it doesn't import)."""

from django.dispatch import Signal

# Sent by ``services.course_delete`` inside its transaction, before the course's row goes, with
# ``course``, ``force``, ``by`` and ``via``. A receiver may refuse the deletion by raising a
# ``gradingsite.errors.Conflict`` (``grading``: results are recorded and ``force`` is false), or
# remove what it keeps about the course the way its app must (``grading`` writes the history).
course_deleting = Signal()

# Sent by ``services.course_update`` inside its transaction when a course's ``late_policy`` changed,
# with ``course`` (its new policy set) and ``by``: ``grading`` recomputes the late deductions.
late_policy_changed = Signal()
