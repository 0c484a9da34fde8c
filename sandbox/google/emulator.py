"""One Google emulator instance: its world, OAuth issuer, sync ledger and push hub together."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from aiohttp import web

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.faults import Faults
from sandbox.google.push import PushHub
from sandbox.google.quota import RequestQuotas
from sandbox.google.state import GoogleUser, GoogleWorld
from sandbox.google.sync import SyncLedger
from sandbox.google.tokens import ServiceAccount, TokenIssuer

__all__ = ["EMULATOR", "GoogleEmulator"]


@dataclass
class GoogleEmulator:
    world: GoogleWorld
    account: ServiceAccount
    issuer: TokenIssuer
    ledger: SyncLedger
    hub: PushHub
    faults: Faults
    clock: Clock
    counters: Counters
    quota: RequestQuotas = field(default_factory=RequestQuotas)

    @classmethod
    def create(
        cls,
        *,
        seed: int,
        users: list[GoogleUser],
        domains: tuple[str, ...],
        faults: Faults,
        clock: Clock,
        counters: Counters,
        push_ssl: ssl.SSLContext | None = None,
    ) -> GoogleEmulator:
        world = GoogleWorld(clock, counters, seed=seed, users=users, domains=domains)
        key_id = f"{seed:08x}" + world.new_id(32)
        account = ServiceAccount.generate(
            project_id="calbridge-sandbox", key_id=key_id, client_id=str(100000000000000000000 + seed)
        )
        issuer = TokenIssuer(account, clock, set(world.users), world.rng.randbytes)
        hub = PushHub(world, clock, faults, counters, push_ssl)
        return cls(world, account, issuer, SyncLedger(), hub, faults, clock, counters)

    def reset(self) -> None:
        """Back to the seeded initial state: calendars emptied, tokens and channels forgotten."""
        self.hub.reset()
        self.world.reset()
        self.ledger.marks.clear()
        self.ledger.pages.clear()
        self.issuer.grants.clear()
        self.issuer.known_users.clear()
        self.issuer.known_users.update(self.world.users)
        self.quota.reset()

    def add_users(self, users: list[GoogleUser]) -> None:
        """More people in the domain, each with a primary calendar (the bulk control route)."""
        for user in users:
            if user.email not in self.world.users:
                self.world.add_user(user)
                self.issuer.known_users.add(user.email)


EMULATOR = web.AppKey("google_emulator", GoogleEmulator)
