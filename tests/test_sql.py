"""gradingsite.sql.Statement: a queryset compiled once, run with new values, converted like the queryset."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from gradingsite.sql import Statement

pytestmark = pytest.mark.django_db


def test_a_statement_gives_the_querysets_objects_for_each_new_value(make_user):
    ada = make_user("ada@example.com", social={"github": "ada"})
    bob = make_user("bob@example.com")
    by_pk = Statement(lambda pk: User.objects.filter(pk=pk))

    assert [u.email for u in by_pk.objects(pk=ada.pk)] == ["ada@example.com"]
    with CaptureQueriesContext(connection) as queries:
        (found,) = by_pk.objects(pk=bob.pk)
    assert len(queries) == 1 and found == bob
    assert by_pk.objects(pk=ada.pk)[0].social == {"github": "ada"}  # JSON converted as the ORM would
    assert by_pk.objects(pk=10**9) == []


def test_a_statement_of_values_gives_rows_keyed_like_values(make_user):
    ada = make_user("ada@example.com", first_name="Ada")
    rows = Statement(lambda pk: User.objects.filter(pk=pk).values("email", "first_name")).rows(pk=ada.pk)
    assert rows == [{"email": "ada@example.com", "first_name": "Ada"}]


def test_a_queryset_that_uses_a_value_twice_is_refused():
    twice = Statement(lambda pk: User.objects.filter(pk=pk) | User.objects.filter(id__gte=pk))
    with pytest.raises(ValueError, match="each value must appear once"):
        twice.objects(pk=1)
