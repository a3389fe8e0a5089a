from rest_framework.metadata import SimpleMetadata


class Metadata(SimpleMetadata):
    """What OPTIONS answers: the endpoint's name, description and media types.

    DRF's default also describes the writable fields of PUT and POST, which means looking up the
    object and checking permissions for it on an OPTIONS request; the schema at /api/schema/
    already describes every body, for every caller.
    """

    def determine_metadata(self, request, view):
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        return metadata

    def determine_actions(self, request, view):
        return {}
