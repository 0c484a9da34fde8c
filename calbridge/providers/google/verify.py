"""Try a Google connection's credential with one token request, as `connections add` does.

The JWT-bearer grant for the service account itself (no subject) proves the key: a deleted or
disabled key, or a key file of another account, is refused here. Whether the domain delegated
the calendar scope to the account shows only for a user, so it is checked when a pair is
activated (`pairs.access`).
"""

from __future__ import annotations

import asyncio

from calbridge.connections import Connection
from calbridge.errors import CredentialRefused, TransientProviderError
from calbridge.providers.google.client import GOOGLE_SCOPES
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.google.errors import translate_exception

__all__ = ["verify_google"]

FIX = (
    "create a new JSON key for the service account in the Google Cloud console (IAM > Service "
    "accounts > Keys) and give it with --service-account"
)


async def verify_google(connection: Connection, seconds: float) -> str:
    """Request one token with the service account's key; raise CredentialRefused (naming the
    fix), AccessDenied or TransientProviderError, or say what was proven."""
    import google_auth_httplib2
    import httplib2
    from google.oauth2 import service_account

    assert isinstance(connection, GoogleConnection)
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        connection.service_account_info(), scopes=list(GOOGLE_SCOPES)
    )
    request = google_auth_httplib2.Request(httplib2.Http(timeout=seconds, ca_certs=connection.ca_file))
    try:
        await asyncio.wait_for(asyncio.to_thread(credentials.refresh, request), seconds + 5)
    except TimeoutError:
        raise TransientProviderError(f"the google token endpoint did not answer in {seconds:g} s") from None
    except Exception as exc:
        error = translate_exception(exc, on="calendar")
        if error is None:
            raise
        if isinstance(error, CredentialRefused):
            raise CredentialRefused(f"{error}: {FIX}") from None
        raise error from None
    return f"a token was issued for {connection.client_email}"
