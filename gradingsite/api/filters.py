"""Filter backends shared by the API's lists."""

from rest_framework import filters
from rest_framework.exceptions import ValidationError


class SearchFilter(filters.SearchFilter):
    """DRF's ``?search=``, its errors as field errors (``{"search": ["..."]}``) like every other
    query parameter's: DRF's own would answer a bare list for a NUL character."""

    def get_search_terms(self, request):
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from None
