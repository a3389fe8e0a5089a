"""What the API's viewsets share: ids in paths, and the objects they name."""

from django.db import InterfaceError, OperationalError, transaction
from django.http import Http404
from rest_framework import viewsets

from gradingsite import replicas
from gradingsite.api import idempotency, preconditions
from gradingsite.api.serializers import MAX_ID

WRITE_METHODS = ("PUT", "PATCH", "DELETE")


def path_id(raw) -> int:
    """A path id as an integer; anything else (``abc``, ``-1``, ``1.5``, beyond bigint) is a 404."""
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        raise Http404
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise Http404
    return value


def get_or_404(queryset, raw_id):
    """The row of ``queryset`` with this path id, or a 404."""
    try:
        return queryset.get(pk=path_id(raw_id))
    except queryset.model.DoesNotExist:
        raise Http404 from None


class ApiViewSet(idempotency.IdempotentWrites, viewsets.GenericViewSet):
    """A viewset of the API. Any path segment reaches it as an id; ``path_id`` decides. Its writes
    take an ``Idempotency-Key`` (gradingsite.api.idempotency)."""

    lookup_value_regex = "[^/]+"

    # Set per viewset or per @action (an action's options must name attributes of the class).
    filterset_class = None
    search_fields = None
    ordering_fields = None
    ordering = None
    # How the schema documents refusals (gradingsite.api.schema.ApiAutoSchema).
    schema_forbidden = True
    schema_errors: dict = {}
    # The actions whose reads may lag by seconds: with replicas, they read from one (gradingsite.replicas).
    replica_actions = frozenset({"list"})
    # A viewset of a versioned resource (gradingsite.versions): its writes run in one transaction that
    # starts by checking If-Match (``check_version``), and its answers carry an ETag.
    versioned = False

    def dispatch(self, request, *args, **kwargs):
        if self.versioned and request.method in WRITE_METHODS:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def representation(self, pk: int) -> dict:
        """The object's representation as it is now (sent back with a 412)."""
        return self.get_serializer(self.get_queryset().get(pk=pk)).data

    def check_version(self, obj) -> None:
        """On a write, compare If-Match with ``obj``'s version (``gradingsite.api.preconditions``)."""
        if self.versioned and self.request.method in WRITE_METHODS:
            preconditions.check(self.request, type(obj), obj.pk, lambda: self.representation(obj.pk))

    def finalize_response(self, request, response, *args, **kwargs):
        return super().finalize_response(request, preconditions.with_etag(request, response), *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "HEAD") and self.action in self.replica_actions:
            replicas.begin_lagging_reads(request.user)

    def handle_exception(self, exc):
        # A replica that fails in the middle of a read: the read is run again on the primary.
        replica = replicas.read_alias()
        if replica is not None and isinstance(exc, (OperationalError, InterfaceError)):
            replicas.mark_down(replica)
            replicas.end_lagging_reads()
            try:
                return getattr(self, self.request.method.lower())(self.request, *self.args, **self.kwargs)
            except Exception as again:
                exc = again
        return super().handle_exception(exc)

    def get_object(self):
        obj = get_or_404(self.get_queryset(), self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        self.check_object_permissions(self.request, obj)
        self.check_version(obj)
        return obj


def swagger_fake(view) -> bool:
    """True while drf-spectacular inspects the view for the schema (no request user, no objects)."""
    return getattr(view, "swagger_fake_view", False)
