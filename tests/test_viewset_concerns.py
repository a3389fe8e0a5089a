"""The API viewsets' concerns (gradingsite.api.viewsets) are composed in the order their hooks need."""

import pytest

from gradingsite.api.idempotency import IdempotentWrites
from gradingsite.api.viewsets import ApiViewSet, ETags, VersionedWrites
from gradingsite.urls import API_ROUTERS as ROUTERS


def _viewsets():
    return sorted({pattern.callback.cls for router in ROUTERS for pattern in router.urls}, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("viewset", _viewsets(), ids=lambda cls: cls.__name__)
def test_each_viewsets_concerns_run_in_order(viewset):
    mro = viewset.__mro__
    if IdempotentWrites in mro and ETags in mro:
        # The stored answer of a keyed write carries the ETag that was sent.
        assert mro.index(ETags) < mro.index(IdempotentWrites)
    if VersionedWrites in mro:
        # The write's transaction, begun before the key's, holds the If-Match check and the write.
        assert issubclass(viewset, ApiViewSet)
        assert mro.index(VersionedWrites) < mro.index(IdempotentWrites)
        assert viewset.versioned is True
    else:
        assert not getattr(viewset, "versioned", False)


def test_the_versioned_resources_are_the_five_that_carry_a_version():
    versioned = {cls.__name__ for cls in _viewsets() if issubclass(cls, VersionedWrites)}

    assert versioned == {"CourseViewSet", "TestViewSet", "ResultViewSet", "CategoryViewSet", "UserViewSet"}
