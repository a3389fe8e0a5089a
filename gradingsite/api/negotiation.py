from rest_framework.negotiation import BaseContentNegotiation


class OnlyRepresentation(BaseContentNegotiation):
    """For endpoints with one representation: it is served whatever the Accept header asks (never a 406)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
