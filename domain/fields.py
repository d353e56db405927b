"""The unknown-field rule of objects read from outside (admin bodies, config files)."""

from __future__ import annotations

from collections.abc import Container, Iterable

from domain.errors import BadRequest


def only_fields(body: Iterable[object], allowed: Container[str], what: str) -> None:
    """Refuse a field the body may not carry: a misspelt `request_id` or `metadata` must
    not be dropped quietly (an admin write retried without its id applies twice)."""
    unknown = sorted(str(key) for key in body if key not in allowed)
    if unknown:
        raise BadRequest(f"unknown {what} fields: {', '.join(unknown)}")
