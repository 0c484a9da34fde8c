"""Try an EWS connection's credential with one cheap authenticated call, as `connections add` does.

- `oauth`: one client-credentials token request (the connection's token URL, else Entra ID's).
- `ntlm` / `basic` with a URL: one small SOAP request (`GetFolder` of the account's calendar).
  Exchange authenticates a request before it reads it, so a 401 is the credential refused and
  any other answer, even a SOAP fault about the mailbox, is the credential accepted.
- autodiscover without a URL: the endpoint is found per mailbox, so the credential is tried
  when a pair is activated; nothing is sent now.
"""

from __future__ import annotations

import asyncio
from typing import Any

from calbridge.connections import Connection
from calbridge.errors import AccessDenied, CredentialRefused, TransientProviderError
from calbridge.providers.ews.connection import EwsConnection

__all__ = ["verify_ews"]

SCOPE = "https://outlook.office365.com/.default"
_PROBE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
    '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>'
    "<s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder></s:Body>'
    "</s:Envelope>"
)


async def verify_ews(connection: Connection, seconds: float) -> str:
    """One authenticated call with the connection's credential; raise CredentialRefused (naming
    the fix), AccessDenied or TransientProviderError, or say what was proven (or not tried)."""
    assert isinstance(connection, EwsConnection)
    if connection.auth != "oauth" and connection.url is None:
        return "not tried: autodiscover finds the endpoint per mailbox (a pair's activation tries it)"
    return await asyncio.to_thread(_verify, connection, seconds)


def _verify(connection: EwsConnection, timeout: float) -> str:
    import requests

    verify: Any = connection.ca_file or True
    try:
        if connection.auth == "oauth":
            url = connection.token_url or (
                f"https://login.microsoftonline.com/{connection.tenant_id}/oauth2/v2.0/token"
            )
            form = {
                "grant_type": "client_credentials",
                "client_id": connection.client_id or "",
                "client_secret": connection.password,
                "scope": SCOPE,
            }
            answer = requests.post(url, data=form, timeout=timeout, verify=verify)
            _judge(answer.status_code, "token request", _oauth_fix(answer))
            return "a token was issued for the app"
        assert connection.url is not None
        auth: Any
        if connection.auth == "ntlm":
            from requests_ntlm import HttpNtlmAuth

            auth = HttpNtlmAuth(connection.username or "", connection.password)
        else:
            auth = requests.auth.HTTPBasicAuth(connection.username or "", connection.password)
        answer = requests.post(
            connection.url,
            data=_PROBE.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            auth=auth,
            timeout=timeout,
            verify=verify,
        )
        _judge(answer.status_code, "request", "check --username and the password (the account's current one)")
        return f"the EWS server accepted {connection.username}"
    except requests.RequestException as exc:
        raise TransientProviderError(f"cannot reach the EWS endpoint: {type(exc).__name__}") from None


def _oauth_fix(answer: Any) -> str:
    try:
        said = answer.json()
    except ValueError:
        said = {}
    text = str(said.get("error_description") or said.get("error") or "") if isinstance(said, dict) else ""
    if "AADSTS90002" in text:
        return "check --tenant"
    if "AADSTS700016" in text:
        return "check --client-id and that the app is registered in --tenant"
    return "check --client-id and give the client secret's Value (not its Secret ID) in the password file"


def _judge(status: int, what: str, fix: str) -> None:
    if status in (400, 401):
        raise CredentialRefused(f"the EWS {what} was refused ({status}): {fix}")
    if status == 403:
        raise AccessDenied(f"the EWS {what} was forbidden (403): the account may not use EWS")
    if status >= 500 and what == "token request":
        raise TransientProviderError(f"the EWS token endpoint failed ({status})")
