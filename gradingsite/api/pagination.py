from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=N``: 50 rows by default, at most 1000."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
