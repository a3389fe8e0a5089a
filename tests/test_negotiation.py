"""The API's content negotiation answers as DRF's own does (``gradingsite.api.negotiation``)."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from gradingsite.api.negotiation import ContentNegotiation
from gradingsite.api.renderers import FastJSONRenderer


class _CSV(JSONRenderer):
    media_type = "text/csv; header=present"
    format = "csv"


class _Any(JSONRenderer):
    media_type = "*/*"
    format = "any"


def _answer(negotiation, request, renderers, suffix):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except NotAcceptable:
        return "406"
    except Exception as exc:  # the same exception type is the same answer
        return type(exc).__name__
    return type(renderer), media_type


@pytest.mark.parametrize("accept", [None, "*/*", "", "application/json", "text/html", "*/*; q=0.5", " */*", "text/*"])
@pytest.mark.parametrize("query", ["", "format=json", "format=csv", "format="])
@pytest.mark.parametrize("suffix", [None, "json"])
@pytest.mark.parametrize(
    "renderers",
    [[FastJSONRenderer], [_CSV, FastJSONRenderer], [_Any], [FastJSONRenderer, BrowsableAPIRenderer], []],
    ids=["json", "csv-json", "any", "json-browsable", "none"],
)
def test_the_negotiation_answers_as_drfs(accept, query, suffix, renderers):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/x/?{query}", **headers))
    instances = [cls() for cls in renderers]
    ours = _answer(ContentNegotiation(), request, instances, suffix)
    drf = _answer(
        DefaultContentNegotiation(), Request(APIRequestFactory().get(f"/api/x/?{query}", **headers)), instances, suffix
    )
    assert ours == drf
