"""A connection's private CA (the sandbox's, a company's), stored as its PEM text.

A CA bundle is public, so it is kept with the connection's settings in the store, not as a
path: every pod reads the same record, and none needs the file that `connections add
--ca-file PATH` read. The libraries want a file (httplib2's `ca_certs`, azure-identity's
`connection_verify`, requests' `verify`), so `ca_path` writes the text once per process into
the temporary directory (in Kubernetes the pods' writable `/tmp`), named by its digest: the same
CA is the same file, a replaced CA a new one.

Records saved before the content was stored hold a `ca_file` path; `stored_ca` reads that file
while it exists, and migration 0009 moves its content into the record where it can.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from calbridge.errors import ConnectionInvalid

__all__ = ["ca_path", "ca_summary", "check_ca_pem", "read_ca_file", "stored_ca"]

_BEGIN = "-----BEGIN CERTIFICATE-----"
_lock = threading.Lock()


def check_ca_pem(text: str | None) -> None:
    """Raise ConnectionInvalid unless `text` (when given) is PEM that OpenSSL loads as CAs."""
    if text is None:
        return
    if _BEGIN not in text:
        raise ConnectionInvalid("the CA bundle is not PEM (no '-----BEGIN CERTIFICATE-----' line)")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ConnectionInvalid(
            f"the CA bundle is not a valid PEM certificate ({type(exc).__name__})"
        ) from None


def read_ca_file(path: Path) -> str:
    """The PEM text of a CA bundle file, checked; ConnectionInvalid says what is wrong with it."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise ConnectionInvalid(
            f"the CA file {path} is not PEM text (DER? convert it with openssl x509)"
        ) from None
    except OSError as exc:
        raise ConnectionInvalid(f"cannot read the CA file {path}: {exc.strerror}") from None
    try:
        check_ca_pem(text)
    except ConnectionInvalid as exc:
        raise ConnectionInvalid(f"the CA file {path}: {str(exc).removeprefix('the CA bundle ')}") from None
    return text


def stored_ca(settings: dict[str, Any]) -> str | None:
    """The CA text of a stored connection's settings: `ca_pem`, or for an older record the file
    its `ca_file` names (ConnectionInvalid, with the remedy, when that file is gone)."""
    pem = settings.get("ca_pem")
    if pem:
        return str(pem)
    legacy = settings.get("ca_file")
    if not legacy:
        return None
    try:
        return read_ca_file(Path(str(legacy)))
    except ConnectionInvalid as exc:
        raise ConnectionInvalid(
            f"{exc} (this connection was saved with the path of its CA, not its content); store the "
            "content with `connections add ... --replace --ca-file PATH`"
        ) from None


def ca_path(pem: str) -> str:
    """A file holding `pem`, written once per content into the temporary directory."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:24]
    folder = Path(tempfile.gettempdir()) / "calbridge-ca"
    target = folder / f"{digest}.pem"
    with _lock:
        if not target.is_file():
            folder.mkdir(mode=0o755, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=folder, suffix=".part")
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(pem)
            os.replace(partial, target)
    return str(target)


def ca_summary(pem: str | None) -> str | None:
    """How a person sees a stored CA: how many certificates and the start of its digest."""
    if not pem:
        return None
    count = pem.count(_BEGIN)
    return f"{count} certificate(s), sha256 {hashlib.sha256(pem.encode()).hexdigest()[:16]}"
