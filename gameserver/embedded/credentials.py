"""The embedded cluster's Valkey users and their passwords, kept in `<data dir>/credentials.json`.

The file (mode 0600, in a 0700 data dir) is the only place the passwords live in clear
besides each node's own config (`masterauth`); the nodes' ACLs hold SHA-256 hashes.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"
ADMIN_USER = "admin"
GAMESERVER_USER = "gameserver"
_PASSWORD_BYTES = 32


@dataclass(frozen=True)
class Credential:
    username: str
    password: str

    @classmethod
    def generate(cls, username: str) -> Credential:
        # Hex: no character that valkey.conf, a shell or a URL would need to quote.
        return cls(username, secrets.token_hex(_PASSWORD_BYTES))


@dataclass(frozen=True)
class ClusterCredentials:
    """`admin`: every command (operators, forming the cluster, replication);
    `gameserver`: what the gateways and workers need (gameserver/embedded/acl.py)."""

    admin: Credential
    gameserver: Credential

    @classmethod
    def generate(cls) -> ClusterCredentials:
        return cls(Credential.generate(ADMIN_USER), Credential.generate(GAMESERVER_USER))

    def to_json(self) -> str:
        users = {
            "admin": {"username": self.admin.username, "password": self.admin.password},
            "gameserver": {
                "username": self.gameserver.username,
                "password": self.gameserver.password,
            },
        }
        return json.dumps(users, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterCredentials:
        raw = json.loads(text)
        return cls(_credential(raw, "admin"), _credential(raw, "gameserver"))


def _credential(raw: object, role: str) -> Credential:
    entry = raw.get(role) if isinstance(raw, dict) else None
    if not isinstance(entry, dict):
        raise ValueError(f"no {role!r} entry")
    username, password = entry.get("username"), entry.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValueError(f"the {role!r} entry needs a string username and password")
    if not username or not password or any(c.isspace() for c in username + password):
        raise ValueError(f"the {role!r} username and password must be non-empty, without spaces")
    return Credential(username, password)


def credentials_path(data_dir: Path) -> Path:
    return Path(data_dir) / CREDENTIALS_FILE


def load_credentials(data_dir: Path) -> ClusterCredentials | None:
    """The credentials kept in `data_dir`, or None where there are none yet."""
    path = credentials_path(data_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return ClusterCredentials.from_json(text)
    except ValueError as exc:
        raise RuntimeError(f"{path} is not a valid credentials file: {exc}") from None


def load_or_create_credentials(data_dir: Path) -> ClusterCredentials:
    """The credentials of `data_dir`, generated and written (mode 0600) on first use."""
    found = load_credentials(data_dir)
    if found is not None:
        return found
    credentials = ClusterCredentials.generate()
    path = credentials_path(data_dir)
    partial = path.with_name(path.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(credentials.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return credentials
