"""Identity tokens for tests: signing keys the test makes, a JWKS file and a JWKS URL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://id.example.test"
AUDIENCE = "game-tests"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def make(cls, kid: str, algorithm: str = "RS256") -> SigningKey:
        if algorithm == "RS256":
            private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        return cls(kid, algorithm, private)

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        exporter: Any = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm}.get(
            self.algorithm, OKPAlgorithm
        )
        found: dict[str, Any] = json.loads(exporter.to_jwk(public))
        return {**found, "kid": self.kid, "use": "sig"}

    def token(self, subject: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def provider(name: str, **where: Any) -> dict[str, Any]:
    return {name: {"issuer": ISSUER, "audience": AUDIENCE, **where}}


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    path.write_text(json.dumps(jwks(*keys)))
    return path


@dataclass
class JwksServer:
    """A JWKS URL on 127.0.0.1 whose keys the test swaps; counts the fetches."""

    keys: list[SigningKey]
    fetches: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> bytes:
        with self._lock:
            self.fetches += 1
            return json.dumps(jwks(*self.keys)).encode()


@contextmanager
def jwks_server(*keys: SigningKey) -> Iterator[JwksServer]:
    state = JwksServer(list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server spelling)
            body = state.serve()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
