"""Pure rules of accounts: credential and name formats, ids, keyed credential hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from domain.accounts.models import Credential, CredentialKind
from domain.errors import BadRequest

DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{16,128}")
PROVIDER_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PLAYER_ID_ALPHABET = string.ascii_lowercase + string.digits
PLAYER_ID_CHARS = 16
DISPLAY_NAME_MAX_CHARS = 32
MAX_ID_TOKEN_CHARS = 8192
BAN_REASON_MAX_CHARS = 256
# The credential hash key is derived from the signing secret under this label, so the
# two keys differ even though one secret is configured.
_CREDENTIAL_KEY_LABEL = b"gameserver/credential-hash/v1"


def new_player_id() -> str:
    """A server-chosen player id: 16 random characters of [a-z0-9] (~82 bits).

    One draw from the system's randomness, written in base 36: a draw per character
    (`secrets.choice`) cost a new device's login ~25 us of system calls."""
    base = len(PLAYER_ID_ALPHABET)
    number = secrets.randbelow(base**PLAYER_ID_CHARS)
    chars = []
    for _ in range(PLAYER_ID_CHARS):
        number, digit = divmod(number, base)
        chars.append(PLAYER_ID_ALPHABET[digit])
    return "".join(chars)


def device_credential(device_id: object) -> Credential:
    if not isinstance(device_id, str) or DEVICE_ID_PATTERN.fullmatch(device_id) is None:
        raise BadRequest("device_id must be 16..128 characters of [A-Za-z0-9_.:-]")
    return Credential(CredentialKind.DEVICE, device_id)


def provider_name(value: object) -> str:
    if not isinstance(value, str) or PROVIDER_PATTERN.fullmatch(value) is None:
        raise BadRequest("provider must match ^[A-Za-z0-9_.-]{1,64}$")
    return value


def id_token(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_TOKEN_CHARS:
        raise BadRequest(f"id_token must be a JWT of at most {MAX_ID_TOKEN_CHARS} characters")
    return value


def display_name(value: object) -> str:
    """1..32 printable characters (no control characters, not only spaces)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= DISPLAY_NAME_MAX_CHARS
        or not value.isprintable()
        or not value.strip()
    ):
        raise BadRequest(f"display_name must be 1..{DISPLAY_NAME_MAX_CHARS} printable characters")
    return value


def ban_until(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise BadRequest("until must be unix seconds or null")
    if not 0 <= value < 2**53:
        raise BadRequest("until must be unix seconds or null")
    return float(value)


def ban_reason(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > BAN_REASON_MAX_CHARS:
        raise BadRequest(f"reason must be a string of at most {BAN_REASON_MAX_CHARS} characters")
    return value


def credential_hash_key(secret: bytes) -> bytes:
    """The key credentials are hashed under, derived from the token-signing secret."""
    return hmac.new(secret, _CREDENTIAL_KEY_LABEL, hashlib.sha256).digest()


def credential_digest(key: bytes, credential: Credential) -> str:
    """HMAC-SHA256 of the credential: what the store keeps instead of the credential."""
    material = f"{credential.kind.value}\0{credential.provider or ''}\0{credential.secret}"
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()
