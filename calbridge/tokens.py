"""Signed subscription tokens: the Google channel `token` and the Graph `clientState`.

When calbridge subscribes to a calendar it hands the provider a token that the provider echoes
back on every notification. The token names the calendar and proves that calbridge issued it,
so the receiver authenticates and routes a notification without a database round trip.

Wire format (ASCII, fields separated by dots; no field can contain a dot)::

    1g.<calendar ref>.<kid>.<expiry>.<mac>      Google channel token (at most 256 chars)
    1m.<calendar ref>.<kid>.<expiry>.<mac>      Graph clientState (at most 128 chars)

- `1` is the scheme version, `g` / `m` the provider (Google / Microsoft Graph): each push
  provider's profile names its code, its length limit and whether its tokens are bound to the
  channel id (`ProviderProfile.token`).
- `kid` names the key that made the MAC (alphanumeric, at most 8 chars).
- `expiry` is the Unix time in seconds, base 36 (7 digits last until the year 4400).
- `mac` is HMAC-SHA256, base64url without padding (43 chars), over a length-prefixed encoding
  of (version, provider, calendar ref, kid, expiry) and, for a provider whose tokens are bound
  to a channel (Google), the channel id, so a token copied onto another channel does not verify.

The longest Graph token (a 64-char ref, an 8-char kid, a 7-digit expiry) is exactly 128 chars.
Verification is constant-time over the MAC, accepts every configured key (rotation: the first
key signs, all verify) and refuses with a specific error class.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from calbridge.clock import Clock, system_clock
from calbridge.errors import CalbridgeError
from calbridge.events import Provider
from calbridge.providers.profile import TokenFormat
from calbridge.providers.registry import PROFILES

__all__ = [
    "SCHEME_VERSION",
    "TOKEN_GRACE",
    "BadSignature",
    "Clock",
    "ExpiredToken",
    "MalformedToken",
    "TokenError",
    "TokenTooLong",
    "UnknownKey",
    "VerifiedToken",
    "WrongProvider",
    "sign_token",
    "system_clock",
    "verify_token",
]

SCHEME_VERSION = "1"
# Graph retries an unacknowledged notification for up to 4 hours, and a Google channel may
# deliver a little past its expiration: a token should outlive its subscription by this much.
TOKEN_GRACE = timedelta(hours=6)

# Keyed by the provider's name, so that a plain "google" finds its format as a Provider does.
_FORMATS: Mapping[str, TokenFormat] = {p.provider.value: p.token for p in PROFILES if p.token is not None}
_CODE_PROVIDER = {p.token.code: p.provider for p in PROFILES if p.token is not None}
_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KID = re.compile(r"[A-Za-z0-9]{1,8}")
_EXPIRY = re.compile(r"0|[1-9a-z][0-9a-z]{0,6}")  # no leading zeros: one spelling per value
_MAC = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_EXPIRY = 36**7 - 1
_CHANNEL_ID_MAX = 256


class TokenError(CalbridgeError):
    """A token was refused; the subclass says why (for metrics, never shown to the caller)."""

    reason = "invalid"


class TokenTooLong(TokenError):
    reason = "too_long"


class MalformedToken(TokenError):
    reason = "malformed"


class WrongProvider(TokenError):
    reason = "wrong_provider"


class UnknownKey(TokenError):
    reason = "unknown_key"


class BadSignature(TokenError):
    reason = "bad_signature"


class ExpiredToken(TokenError):
    reason = "expired"


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    calendar_ref: str
    kid: str
    expires_at: datetime


def sign_token(
    provider: Provider,
    calendar_ref: str,
    expires_at: datetime,
    keys: Mapping[str, bytes],
    *,
    channel_id: str | None = None,
) -> str:
    """Make the token for one subscription, signed with the first key of `keys`.

    `channel_id` is required where tokens are bound to a channel (Google: the channel id chosen
    before `events.watch`) and not allowed elsewhere (Graph: the subscription id is only known
    after the create).
    """
    token_format = _format(provider)
    code = token_format.code
    if not _REF.fullmatch(calendar_ref):
        raise ValueError("a calendar ref is 1-64 characters of [A-Za-z0-9_-]")
    _check_channel_id(token_format, channel_id)
    if not keys:
        raise ValueError("no signing key configured")
    kid, secret = next(iter(keys.items()))
    if not _KID.fullmatch(kid):
        raise ValueError("a key id is 1-8 alphanumeric characters")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    expiry = int(expires_at.timestamp())
    if not 0 <= expiry <= _MAX_EXPIRY:
        raise ValueError("expires_at is out of range")
    mac = _mac(secret, code, calendar_ref, kid, expiry, channel_id)
    token = ".".join((SCHEME_VERSION + code, calendar_ref, kid, _to_base36(expiry), mac))
    if len(token) > token_format.max_length:  # unreachable with the checks above; kept as a guard
        raise TokenTooLong(f"token of {len(token)} chars exceeds the {provider} limit")
    return token


def verify_token(
    token: str,
    provider: Provider,
    keys: Mapping[str, bytes],
    *,
    channel_id: str | None = None,
    clock: Clock = system_clock,
) -> VerifiedToken:
    """Authenticate a token echoed by `provider`; raise a TokenError subclass if refused.

    Checks, in order: length, shape, provider, key id, MAC (constant-time), expiry. The MAC is
    checked before the expiry so that a forged token is always counted as forged.
    """
    token_format = _format(provider)
    code = token_format.code
    if len(token) > token_format.max_length:
        raise TokenTooLong(f"token longer than {token_format.max_length} chars")
    parts = token.split(".")
    if len(parts) != 5:
        raise MalformedToken("a token has five dot-separated fields")
    head, ref, kid, expiry_text, mac = parts
    if len(head) != 2 or head[0] != SCHEME_VERSION or head[1] not in _CODE_PROVIDER:
        raise MalformedToken("unknown scheme version or provider code")
    if not (
        _REF.fullmatch(ref) and _KID.fullmatch(kid) and _EXPIRY.fullmatch(expiry_text) and _MAC.fullmatch(mac)
    ):
        raise MalformedToken("a field of the token has the wrong shape")
    if head[1] != code:
        raise WrongProvider(f"token was issued for {_CODE_PROVIDER[head[1]]}, presented to {provider}")
    if channel_id is not None and (not channel_id or len(channel_id) > _CHANNEL_ID_MAX):
        raise MalformedToken("channel id is empty or too long")
    bound = token_format.bound_to_channel
    if bound and channel_id is None:
        raise MalformedToken(f"a {provider} token is verified together with its channel id")
    secret = keys.get(kid)
    if secret is None:
        raise UnknownKey(f"key id {kid!r} is not configured")
    expiry = int(expiry_text, 36)
    expected = _mac(secret, code, ref, kid, expiry, channel_id if bound else None)
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise BadSignature("MAC does not match")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if clock() >= expires_at:
        raise ExpiredToken("token has expired")
    return VerifiedToken(calendar_ref=ref, kid=kid, expires_at=expires_at)


def _format(provider: Provider) -> TokenFormat:
    token_format = _FORMATS.get(provider)  # one dict lookup: this is on the receiver's hot path
    if token_format is None:
        raise ValueError(f"{provider} notifications carry no calbridge token")
    return token_format


def _check_channel_id(token_format: TokenFormat, channel_id: str | None) -> None:
    if token_format.bound_to_channel:
        if not channel_id or len(channel_id) > _CHANNEL_ID_MAX:
            raise ValueError("a channel-bound token needs the channel id (1-256 characters)")
    elif channel_id is not None:
        raise ValueError("only channel-bound tokens (Google) take a channel id")


def _mac(secret: bytes, code: str, ref: str, kid: str, expiry: int, channel_id: str | None) -> str:
    fields = [SCHEME_VERSION, code, ref, kid, str(expiry)]
    if channel_id is not None:
        fields.append(channel_id)
    # Length-prefixed so that no two field lists encode to the same bytes.
    message = b"".join(len(raw).to_bytes(4, "big") + raw for raw in (f.encode() for f in fields))
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _to_base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if value == 0:
            return out
