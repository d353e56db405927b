"""HTTP errors outside the handlers (unknown path, wrong method) are JSON error bodies too."""

from __future__ import annotations

import pytest

from tests.gateway_harness import Gateway


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/admin/v1/nothing", 404, "not_found"),
        ("GET", "/nothing", 404, "not_found"),
        ("GET", "/admin/v1/boards/", 404, "not_found"),
        ("POST", "/v1/sessions/", 404, "not_found"),
        ("PUT", "/admin/v1/boards/global", 405, "bad_request"),
        ("GET", "/v1/sessions", 405, "bad_request"),
    ],
)
async def test_routing_errors_have_json_error_bodies(
    gateway: Gateway, method: str, path: str, status: int, code: str
) -> None:
    async with gateway.admin() as http:
        response = await http.request(method, path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/admin/v1/boards/global", "DELETE, GET, HEAD"),
        ("GET", "/v1/sessions", "POST"),
        ("DELETE", "/admin/v1/boards", "GET, HEAD, POST"),
    ],
)
async def test_a_wrong_method_names_every_method_of_the_path(
    gateway: Gateway, method: str, path: str, allowed: str
) -> None:
    async with gateway.admin() as http:
        response = await http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert allowed in response.json()["error"]["message"]
