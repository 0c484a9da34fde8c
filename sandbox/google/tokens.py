"""The OAuth side: a service account whose key the sandbox made, its JWT-bearer grant, and the
bearer tokens it hands out (each bound to the impersonated user, `sub`).

google-auth always signs `aud = https://oauth2.googleapis.com/token`, whatever `token_uri` says,
so that is the audience accepted. Assertion times are checked against real time (the client's
clock is real); access-token lifetimes follow the sandbox clock, so advancing it expires tokens
and the client library refreshes on the 401 as it would against Google.
"""

from __future__ import annotations

import base64
import functools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.clock import Clock

__all__ = ["AUDIENCES", "AccessGrant", "ServiceAccount", "TokenError", "TokenIssuer"]

AUDIENCES = ["https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token"]
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = timedelta(seconds=3600)
ASSERTION_LEEWAY = 300  # seconds of clock difference tolerated on iat/exp
CALENDAR_SCOPES = {
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.freebusy",
    "https://www.googleapis.com/auth/calendar.events.freebusy",
}
WRITE_SCOPES = {"https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.events"}
# Gmail's settings scope: granted to the service account only when the admin delegated it too
# (`GMAIL_SETTINGS` in `TokenIssuer.delegated`; the control setting `gmailSettingsDelegated`).
GMAIL_SETTINGS = "https://www.googleapis.com/auth/gmail.settings.basic"


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    client_id: str
    private_key_id: str
    private_key_pem: str
    public_key_pem: str
    project_id: str

    @classmethod
    def generate(cls, *, project_id: str, key_id: str, client_id: str) -> ServiceAccount:
        private, public = _key_pair()
        email = f"calbridge-sync@{project_id}.iam.gserviceaccount.com"
        return cls(email, client_id, key_id, private, public, project_id)

    def info(self, token_uri: str) -> dict[str, str]:
        """The key JSON as the Cloud console hands it out, with the sandbox's token endpoint."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }


@functools.cache
def _key_pair() -> tuple[str, str]:
    """One RSA key per process: generating one costs ~0.2 s, and tests start many sandboxes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class TokenError(Exception):
    """An OAuth error answer: status plus `error` / `error_description` as Google sends them."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class AccessGrant:
    subject: str | None  # the impersonated user; None: the service account itself
    scopes: frozenset[str]
    expires_at: datetime

    @property
    def can_write(self) -> bool:
        return bool(self.scopes & WRITE_SCOPES)


class TokenIssuer:
    def __init__(self, account: ServiceAccount, clock: Clock, known_users: set[str], rng_bytes: Any) -> None:
        self.account = account
        self.clock = clock
        self.known_users = known_users
        self.delegated: set[str] = set(CALENDAR_SCOPES)  # what domain-wide delegation allows
        self._rng_bytes = rng_bytes  # callable(n) -> bytes, from the world's seeded RNG
        self.grants: dict[str, AccessGrant] = {}

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """Answer a token request (form fields) or raise TokenError."""
        if form.get("grant_type") != JWT_BEARER:
            raise TokenError(
                400, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", "")
            )
        assertion = form.get("assertion", "")
        claims = self._verify(assertion)
        subject = claims.get("sub")
        if subject is not None and subject not in self.known_users:
            raise TokenError(400, "invalid_grant", "Invalid email or User ID")
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes or not scopes <= self.delegated:
            raise TokenError(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not "
                "authorized for any of the scopes requested.",
            )
        token = "ya29.sandbox-" + base64.urlsafe_b64encode(self._rng_bytes(32)).decode().rstrip("=")
        self.grants[token] = AccessGrant(subject, scopes, self.clock.now() + TOKEN_LIFETIME)
        return {
            "access_token": token,
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "token_type": "Bearer",
        }

    def _verify(self, assertion: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise TokenError(400, "invalid_grant", "Invalid JWT: malformed assertion.") from exc
        if header.get("kid") not in {None, self.account.private_key_id}:
            raise TokenError(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self.account.public_key_pem,
                algorithms=["RS256"],
                audience=AUDIENCES,
                options={"require": ["iss", "aud", "exp", "iat"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError as exc:
            raise TokenError(400, "invalid_grant", "Invalid JWT Signature.") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(400, "invalid_grant", f"Invalid JWT: {exc}") from exc
        if claims["iss"] != self.account.client_email:
            raise TokenError(401, "invalid_client", "The OAuth client was not found.")
        now = time.time()
        if not (claims["iat"] - ASSERTION_LEEWAY <= now <= claims["exp"] + ASSERTION_LEEWAY) or (
            claims["exp"] - claims["iat"] > 3600
        ):
            raise TokenError(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        return claims

    def check(self, authorization: str | None) -> AccessGrant | None:
        """The grant behind a `Bearer` header, or None if missing, unknown or expired."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        grant = self.grants.get(authorization.removeprefix("Bearer ").strip())
        if grant is None or grant.expires_at <= self.clock.now():
            return None
        return grant
