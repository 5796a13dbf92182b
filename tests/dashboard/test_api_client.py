"""dashboard.clients.api_client with httpx.MockTransport: every failure becomes a reason."""

from __future__ import annotations

import httpx
import pytest

from dashboard.clients.api_client import ApiClient, ApiError
from tests.servers import free_port


def client(handler) -> ApiClient:  # noqa: ANN001
    return ApiClient("http://api.test", api_key="k", transport=httpx.MockTransport(handler))


def test_key_header_and_json() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["key"] = request.headers.get("X-API-Key")
        return httpx.Response(200, json={"model_version": "3"})

    assert client(handler).health() == {"model_version": "3"}
    assert seen["key"] == "k"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, {"detail": "Invalid request: year: too old", "errors": []}, "year: too old"),
        (422, {"detail": [{"loc": ["body", "km"], "msg": "bad"}]}, "km: bad"),
        (401, {"detail": "missing key"}, "CARPRICE_DASHBOARD_API_KEY"),
        (503, {"detail": "no model"}, "no model to serve"),
        (500, "boom", r"failed \(500\): boom"),
    ],
)
def test_http_errors_become_reasons(status: int, body: object, expected: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    with pytest.raises(ApiError, match=expected) as info:
        client(handler).predict({"brand": "x"})
    assert info.value.status == status and not info.value.unreachable


def test_closed_port_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiError, match="not reachable") as info:
        ApiClient(url, timeout=2).health()
    assert info.value.unreachable and url in str(info.value)


def test_catalogue_paths_are_encoded_and_unknown_names_explained() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        if "Marutti" in request.url.path:
            detail = "brand 'Marutti' is not in the catalogue; did you mean: Maruti"
            return httpx.Response(404, json={"detail": detail})
        return httpx.Response(200, json=[{"model": "Discovery Sport"}])

    api = client(handler)
    assert api.catalogue_models("Land Rover") == [{"model": "Discovery Sport"}]
    api.catalogue_variants("Land Rover", "Range Rover/Evoque")
    api.catalogue_brands()
    assert seen == [
        "/catalogue/Land%20Rover/models",
        "/catalogue/Land%20Rover/Range%20Rover%2FEvoque/variants",
        "/catalogue/brands",
    ]
    with pytest.raises(ApiError, match="did you mean: Maruti") as info:
        api.catalogue_models("Marutti")
    assert info.value.status == 404 and not info.value.unreachable


def test_catalogue_lists_treat_404_as_empty_and_raise_the_rest() -> None:
    from dashboard.pricing import _listed

    def fail(status: int):  # noqa: ANN202
        def read() -> list:
            raise ApiError("x", status=status)

        return read

    assert _listed(fail(404)) == []
    assert _listed(lambda: [{"brand": "Maruti"}]) == [{"brand": "Maruti"}]
    with pytest.raises(ApiError):
        _listed(fail(503))
