"""Who lives in the sandbox: the Workspace / Microsoft 365 users, one outside guest, the shared
calendars, and the Microsoft app registration. The same people exist on both sides, as in a
company that runs Google and Microsoft calendars side by side."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

__all__ = ["DOMAIN", "EXTERNAL_GUEST", "MicrosoftApp", "SandboxUser", "microsoft_app", "sandbox_users"]

DOMAIN = "example.com"
EXTERNAL_GUEST = "erin@partner.example"
TEAM_CALENDAR = "c_team0sandbox0calendar@group.calendar.google.com"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class SandboxUser:
    email: str
    name: str
    time_zone: str  # IANA


@dataclass(frozen=True)
class MicrosoftApp:
    tenant_id: str
    client_id: str
    client_secret: str
    # An on-premises service account for EWS (Basic and NTLM), allowed to impersonate everyone.
    service_account: str = f"svc@{DOMAIN}"
    service_password: str = ""


def sandbox_users() -> list[SandboxUser]:
    return [
        SandboxUser(f"alice@{DOMAIN}", "Alice Adams", "Europe/Berlin"),
        SandboxUser(f"bob@{DOMAIN}", "Bob Brown", "America/New_York"),
        SandboxUser(f"carol@{DOMAIN}", "Carol Chen", "UTC"),
        SandboxUser(f"dave@{DOMAIN}", "Dave Diaz", "Asia/Tokyo"),
    ]


def microsoft_app(seed: int) -> MicrosoftApp:
    rng = random.Random(f"microsoft-app:{seed}")
    return MicrosoftApp(
        tenant_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        client_secret="sbx~" + "".join(rng.choice(_ALNUM) for _ in range(36)),
        service_password="Sbx-" + "".join(rng.choice(_ALNUM) for _ in range(16)),
    )
