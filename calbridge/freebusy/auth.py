"""Bearer keys for free/busy callers: `Authorization: Bearer <secret>`.

Keys are configured as `ID:SECRET[,ID:SECRET...]` (CALBRIDGE_FREEBUSY_KEYS); the id names the
caller in logs, never the secret. Every configured secret is compared, in constant time, so the
time taken says nothing about which key or how much of it matched. mTLS, if wanted, is the
ingress's job in front of this (see docs/freebusy.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AuthRefusal", "authenticate", "parse_keys"]

MIN_SECRET = 32


@dataclass(frozen=True, slots=True)
class AuthRefusal:
    status: int  # 401: no usable credentials; 403: credentials that are not accepted
    reason: str


def parse_keys(raw: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        kid, sep, secret = part.strip().partition(":")
        if not sep or not kid or not kid.replace("-", "").isalnum() or len(kid) > 32:
            raise ValueError("each key must be ID:SECRET with an alphanumeric ID of at most 32 characters")
        if len(secret) < MIN_SECRET:
            raise ValueError(f"the secret of key {kid!r} must be at least {MIN_SECRET} characters")
        if kid in keys:
            raise ValueError(f"key id {kid!r} appears twice")
        keys[kid] = secret.encode()
    if not keys:
        raise ValueError("no keys given")
    return keys


def authenticate(authorization: str | None, keys: Mapping[str, bytes]) -> str | AuthRefusal:
    """The id of the key presented, or why the caller is refused."""
    if not authorization:
        return AuthRefusal(401, "send Authorization: Bearer <key>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return AuthRefusal(401, "the Authorization header must be: Bearer <key>")
    presented = token.strip().encode()
    matched: str | None = None
    for kid, secret in keys.items():  # no early exit: compare against every key
        if hmac.compare_digest(presented, secret):
            matched = kid
    if matched is None:
        return AuthRefusal(403, "this key is not accepted")
    return matched
