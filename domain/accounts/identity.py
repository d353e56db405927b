"""Identity tokens from configured providers: JWTs checked against each provider's JWKS.

A provider is configured by name (GAMESERVER_AUTH_PROVIDERS, see docs/accounts.md) with
its issuer, audience and a JWKS URL or file. A provider's keys are fetched once and
kept; a token naming a key id (`kid`) the cache lacks makes one refresh, at most once
per `refresh_min_s`, so a stream of tokens with made-up key ids costs no fetches.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from domain.errors import BadRequest, Unauthorized

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256", "EdDSA")
# Clock skew tolerated on `exp` and `nbf`.
LEEWAY_S = 30
JWKS_MAX_BYTES = 1024 * 1024
JWKS_FETCH_TIMEOUT_S = 5.0
DEFAULT_REFRESH_MIN_S = 30.0
DEFAULT_MAX_AGE_S = 3600.0


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    refresh_min_s: float = DEFAULT_REFRESH_MIN_S
    max_age_s: float = DEFAULT_MAX_AGE_S

    @classmethod
    def from_mapping(cls, name: str, raw: Mapping[str, Any]) -> Provider:
        issuer, audience = raw.get("issuer"), raw.get("audience")
        url, path = raw.get("jwks_url"), raw.get("jwks_file")
        if not isinstance(issuer, str) or not isinstance(audience, str):
            raise ValueError(f"provider {name!r} needs string 'issuer' and 'audience'")
        if (url is None) == (path is None):
            raise ValueError(f"provider {name!r} needs exactly one of 'jwks_url', 'jwks_file'")
        if url is not None and not _trusted_jwks_url(str(url)):
            # Whoever can change the keys in transit can log in as anyone.
            raise ValueError(
                f"provider {name!r}: jwks_url must be an https URL "
                "(plain http only to a loopback address)"
            )
        return cls(
            name=name,
            issuer=issuer,
            audience=audience,
            jwks_url=str(url) if url is not None else None,
            jwks_file=Path(path) if path is not None else None,
            refresh_min_s=float(raw.get("refresh_min_s", DEFAULT_REFRESH_MIN_S)),
            max_age_s=float(raw.get("max_age_s", DEFAULT_MAX_AGE_S)),
        )


def _trusted_jwks_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def parse_providers(raw: str) -> dict[str, Provider]:
    """GAMESERVER_AUTH_PROVIDERS: a JSON object, or the path of a file holding one."""
    text = raw.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        text = Path(text).read_text()
    config = json.loads(text)
    if not isinstance(config, dict):
        raise ValueError("GAMESERVER_AUTH_PROVIDERS must be a JSON object of providers")
    return {name: Provider.from_mapping(name, spec) for name, spec in config.items()}


def _read_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=JWKS_FETCH_TIMEOUT_S) as response:  # noqa: S310
        data: bytes = response.read(JWKS_MAX_BYTES + 1)
    if len(data) > JWKS_MAX_BYTES:
        raise ValueError(f"JWKS larger than {JWKS_MAX_BYTES} bytes")
    return data


class JwksCache:
    """One provider's signing keys by key id, fetched on first use and on an unknown kid."""

    def __init__(self, provider: Provider, monotonic: Callable[[], float] = time.monotonic):
        self._provider = provider
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        found = self._lookup(kid)
        if found is not None and not self._stale():
            return found
        async with self._lock:
            found = self._lookup(kid)
            if (found is None or self._stale()) and self._may_refresh():
                await self._refresh()
                found = self._lookup(kid)
        if found is None:
            raise Unauthorized("the identity token's signing key is unknown")
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            # A JWKS of one key may be used by tokens that name none.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return (
            self._fetched_at is None
            or self._monotonic() - self._fetched_at >= self._provider.max_age_s
        )

    def _may_refresh(self) -> bool:
        return (
            self._fetched_at is None
            or self._monotonic() - self._fetched_at >= self._provider.refresh_min_s
        )

    async def _refresh(self) -> None:
        self._fetched_at = self._monotonic()
        try:
            if self._provider.jwks_url is not None:
                data = await asyncio.to_thread(_read_url, self._provider.jwks_url)
            else:
                assert self._provider.jwks_file is not None
                data = await asyncio.to_thread(self._provider.jwks_file.read_bytes)
            keys = jwt.PyJWKSet.from_json(data.decode()).keys
        except Exception as exc:  # a provider outage keeps the keys we had
            log.warning("JWKS of provider %s not refreshed: %s", self._provider.name, exc)
            return
        self._keys = {key.key_id or f"#{i}": key for i, key in enumerate(keys)}


class IdentityVerifier:
    """Verifies identity tokens of the configured providers; returns the subject."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)
        self._caches = {name: JwksCache(p) for name, p in self._providers.items()}

    async def subject(self, provider: str, token: str) -> str:
        config = self._providers.get(provider)
        if config is None:
            raise BadRequest(f"unknown provider {provider!r}")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the identity token is malformed") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthorized("the identity token's algorithm is not accepted")
        kid = header.get("kid")
        key = await self._caches[provider].key(kid if isinstance(kid, str) else None)
        # A key verifies its own algorithm only (its JWK's `alg`, else the one its type and
        # curve imply): a token naming another one (an ES256 signature with an RSA key's
        # kid) is refused here, not handed to PyJWT as a pair it cannot use.
        if key.algorithm_name != algorithm:
            raise Unauthorized("the identity token's algorithm does not match its signing key")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the identity token was refused: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise Unauthorized("the identity token has no usable subject")
        return subject
