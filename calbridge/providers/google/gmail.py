"""Gmail's vacation responder (`users.settings.vacation`), for out of office on Google.

Only for a connection whose admin delegated `gmail.settings.basic` as well as Calendar
(`GoogleConnection.gmail_settings`): delegated credentials are asked for that one scope, so a
Calendar-only delegation is never asked for more than it has. The Gmail v1 Resource is built
once from the library's static discovery document; calls run in the Google client's pool, each
with an `AuthorizedHttp` of its own (the responder is read at most once a minute per person).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from calbridge.providers.google.client import GoogleClient, discovery_service
from calbridge.providers.google.errors import translate_exception

__all__ = ["GMAIL_SETTINGS_SCOPE", "GmailSettings", "gmail_endpoint"]

GMAIL_SETTINGS_SCOPE = "https://www.googleapis.com/auth/gmail.settings.basic"


def gmail_endpoint(calendar_endpoint: str | None) -> str | None:
    """The Gmail API's base for a connection's Calendar endpoint (`.../calendar/v3/` -> `.../`)."""
    if not calendar_endpoint:
        return None
    return calendar_endpoint.removesuffix("/").removesuffix("calendar/v3") or None


class GmailSettings:
    def __init__(
        self,
        client: GoogleClient,
        service_account_info: dict[str, Any],
        *,
        api_endpoint: str | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        from google.oauth2 import service_account

        self._client = client
        self._ca_file = ca_file
        self._timeout = timeout
        self._base = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            service_account_info, scopes=[GMAIL_SETTINGS_SCOPE]
        )
        service = discovery_service(
            "gmail", "v1", api_endpoint=api_endpoint, ca_file=ca_file, timeout=timeout
        )
        self._settings = service.users().settings()
        self._credentials = lru_cache(maxsize=1024)(self._base.with_subject)

    async def vacation(self, subject: str) -> dict[str, Any]:
        return await self._call(subject, self._settings.getVacation(userId="me"))

    async def set_vacation(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call(subject, self._settings.updateVacation(userId="me", body=body))

    async def _call(self, subject: str, request: Any) -> dict[str, Any]:
        import google_auth_httplib2
        import httplib2

        def run() -> Any:
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials(subject), http=httplib2.Http(timeout=self._timeout, ca_certs=self._ca_file)
            )
            return request.execute(http=http, num_retries=0)

        try:
            answer = await self._client.run(run)
        except Exception as exc:
            error = translate_exception(exc, on="calendar")
            if error is None:
                raise
            raise error from exc
        return answer if isinstance(answer, dict) else {}
