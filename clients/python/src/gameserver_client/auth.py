"""Logins over HTTP (`POST /v1/sessions`): a credential the client can present again.

The client keeps its credential so that it can log in again by itself when its session is
gone (the socket closed with 4401): a device credential reads the same device id from its
storage; a provider credential asks its token source for a fresh identity token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from gameserver_client.errors import ConnectionLost, Internal, RequestTimeout, error_from_wire
from gameserver_client.models import Session
from gameserver_client.storage import Storage, device_id

# A fixed identity token, or a coroutine function that returns a fresh one for each login.
TokenSource = str | Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class DeviceCredential:
    storage: Storage

    async def body(self) -> dict[str, Any]:
        return {"device_id": device_id(self.storage)}


@dataclass(frozen=True)
class ProviderCredential:
    provider: str
    id_token: TokenSource

    async def body(self) -> dict[str, Any]:
        token = self.id_token if isinstance(self.id_token, str) else await self.id_token()
        return {"provider": self.provider, "id_token": token}


Credential = DeviceCredential | ProviderCredential


async def create_session(
    http: httpx.AsyncClient,
    base_url: str,
    credential: Credential,
    *,
    display_name: str | None = None,
    region: str | None = None,
    client_key: str | None = None,
) -> Session:
    """`POST /v1/sessions`; a refusal raises the error class of its code, no answer in
    time `RequestTimeout`, a server out of reach `ConnectionLost`."""
    body = await credential.body()
    if display_name is not None:
        body["display_name"] = display_name
    if region is not None:
        body["region"] = region
    headers = {"Authorization": f"Bearer {client_key}"} if client_key else {}
    try:
        response = await http.post(f"{base_url}/v1/sessions", json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise RequestTimeout(f"login: no answer in time ({exc!r})") from exc
    except httpx.HTTPError as exc:
        raise ConnectionLost(f"login: the server is out of reach ({exc!r})") from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 201 and isinstance(data, dict):
        return Session.from_wire(data)
    details: dict[str, Any] = {"status": response.status_code}
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        try:
            details["retry_after"] = float(retry_after)
        except ValueError:
            pass
    if isinstance(data, dict) and "error" in data:
        raise error_from_wire(data["error"], details)
    raise Internal(f"login answered HTTP {response.status_code}", details=details)
