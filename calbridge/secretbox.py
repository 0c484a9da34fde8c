"""Provider credentials at rest: Fernet ciphertext under `CALBRIDGE_SECRET_KEY`.

The setting holds one Fernet key, or several separated by commas for rotation: the first
encrypts, every key decrypts. To rotate, put a new key first, run
`calbridge connections rotate-key` (re-encrypts every stored secret with the first key), then
drop the old key.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from calbridge.errors import ConfigurationError
from calbridge.settings import ENV_PREFIX, Settings

__all__ = ["SecretBox", "SecretUnreadable", "generate_key", "open_secretbox", "parse_secret_keys"]

VARIABLE = f"{ENV_PREFIX}SECRET_KEY"
HOW_TO_MAKE_ONE = "generate one with `calbridge connections generate-key`"


class SecretUnreadable(ConfigurationError):
    """A stored secret cannot be decrypted with any key of CALBRIDGE_SECRET_KEY: it was encrypted
    under a key that is not in the list (a wrong or lost key, or a rotation done out of order)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def parse_secret_keys(raw: str) -> list[Fernet]:
    """The keys of a comma-separated list, first one first; ValueError (without the key) if any is bad."""
    keys: list[Fernet] = []
    for position, part in enumerate((p.strip() for p in raw.split(",")), start=1):
        if not part:
            continue
        try:
            keys.append(Fernet(part.encode()))
        except (ValueError, binascii.Error):
            raise ValueError(
                f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    if not keys:
        raise ValueError("no key given")
    return keys


class SecretBox:
    """Encrypts and decrypts the secret half of a connection (a small JSON object)."""

    def __init__(self, keys: list[Fernet]) -> None:
        self._fernet = MultiFernet(keys)

    def seal(self, secret: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(secret, sort_keys=True).encode())

    def open(self, ciphertext: bytes) -> dict[str, Any]:
        try:
            plain = self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise SecretUnreadable(
                f"a stored connection secret cannot be decrypted with {VARIABLE}: the key that "
                "encrypted it is not in the list (keep the old key after the new one while rotating)"
            ) from None
        value = json.loads(plain)
        if not isinstance(value, dict):
            raise ConfigurationError("a stored connection secret is not a JSON object")
        return value

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same secret encrypted with the first key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise SecretUnreadable(
                f"a stored connection secret cannot be decrypted with any key in {VARIABLE}"
            ) from None


def open_secretbox(settings: Settings) -> SecretBox:
    """The box for these settings; ConfigurationError naming the variable when it is unset or bad."""
    if settings.secret_key is None:
        raise ConfigurationError(
            f"{VARIABLE} is not set; it encrypts provider credentials in the database ({HOW_TO_MAKE_ONE})"
        )
    try:
        keys = parse_secret_keys(settings.secret_key.get_secret_value())
    except ValueError as exc:
        raise ConfigurationError(f"{VARIABLE}: {exc} ({HOW_TO_MAKE_ONE})") from None
    return SecretBox(keys)
