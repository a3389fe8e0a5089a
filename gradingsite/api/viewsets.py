"""What the API's viewsets share, each concern a mixin named in a viewset's bases: ids in paths and the
objects they name, replica reads, ETags, versioned writes (and ``idempotency.IdempotentWrites``)."""

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


class IdsInPath:
    """Any path segment reaches the view as an id, and ``path_id`` decides: ``get_object`` is the
    row of ``get_queryset()`` with that id (a 404 when the id is malformed or names no such row),
    once the caller's permissions on it were checked."""

    lookup_value_regex = "[^/]+"

    def get_object(self):
        obj = get_or_404(self.get_queryset(), self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        self.check_object_permissions(self.request, obj)
        return obj


class ReplicaReads:
    """The actions whose reads may lag by seconds (``replica_actions``): a ``GET``/``HEAD`` of one
    reads from a replica when one is fit (``gradingsite.replicas``); a replica that fails in the
    middle of the read, the read is run again on the primary."""

    replica_actions = frozenset({"list"})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "HEAD") and self.action in self.replica_actions:
            replicas.begin_lagging_reads(request.user)

    def handle_exception(self, exc):
        replica = replicas.read_alias()
        if replica is not None and isinstance(exc, (OperationalError, InterfaceError)):
            replicas.mark_down(replica)
            replicas.end_lagging_reads()
            try:
                return getattr(self, self.request.method.lower())(self.request, *self.args, **self.kwargs)
            except Exception as again:
                exc = again
        return super().handle_exception(exc)


class ETags:
    """Every single-object answer that carries a ``version`` gets its ``ETag``, and a ``GET`` whose
    ``If-None-Match`` names it a 304 (``gradingsite.api.preconditions.with_etag``). Before
    ``IdempotentWrites`` in a view's bases: a stored answer keeps its tag."""

    def finalize_response(self, request, response, *args, **kwargs):
        return super().finalize_response(request, preconditions.with_etag(request, response), *args, **kwargs)


class VersionedWrites:
    """A viewset of a versioned resource (``gradingsite.versions``): each ``PUT``, ``PATCH`` and
    ``DELETE`` runs in one transaction, which starts, once the caller's permissions on the object
    were checked, by comparing ``If-Match`` with the object's version (``check_version``, called by
    ``get_object``; a 412 with ``representation`` when stale). Before ``ApiViewSet`` in a view's
    bases: its transaction holds the idempotency key's."""

    # Read by the schema (gradingsite.api.schema): the operations take If-Match and If-None-Match.
    versioned = True

    def dispatch(self, request, *args, **kwargs):
        if request.method in WRITE_METHODS:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def representation(self, pk: int) -> dict:
        """The object's representation as it is now (sent back with a 412)."""
        return self.get_serializer(self.get_queryset().get(pk=pk)).data

    def check_version(self, obj) -> None:
        """On a write, compare If-Match with ``obj``'s version (``gradingsite.api.preconditions``)."""
        if self.request.method in WRITE_METHODS:
            preconditions.check(self.request, type(obj), obj.pk, lambda: self.representation(obj.pk))

    def get_object(self):
        obj = super().get_object()
        self.check_version(obj)
        return obj


class ApiViewSet(IdsInPath, ReplicaReads, ETags, idempotency.IdempotentWrites, viewsets.GenericViewSet):
    """A viewset of the API: ids in its paths (``IdsInPath``), lists read from a replica
    (``ReplicaReads``), ETags on its answers (``ETags``) and an ``Idempotency-Key`` on its writes
    (``IdempotentWrites``, gradingsite.api.idempotency). A versioned resource's viewset adds
    ``VersionedWrites`` before it."""

    # Set per viewset or per @action (an action's options must name attributes of the class).
    filterset_class = None
    search_fields = None
    ordering_fields = None
    ordering = None
    # How the schema documents refusals (gradingsite.api.schema.ApiAutoSchema).
    schema_forbidden = True
    schema_errors: dict = {}


def swagger_fake(view) -> bool:
    """True while drf-spectacular inspects the view for the schema (no request user, no objects)."""
    return getattr(view, "swagger_fake_view", False)
