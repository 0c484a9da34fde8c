"""exchangelib against the EWS emulator: folders, items, impersonation, auth, invitations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import (
    BASIC,
    IMPERSONATION,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    FailFast,
)
from exchangelib.version import EXCHANGE_2016, Version

from sandbox.ews import EwsWorld
from sandbox.ews.testing import RunningEws, serve_in_thread

pytestmark = pytest.mark.integration
UTC = EWSTimeZone("UTC")


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    world = EwsWorld(seed=7, minute_seconds=0.5)
    for address in ("alice@example.com", "bob@example.com", "carol@example.com"):
        world.add_mailbox(address)
    world.add_basic_user("svc@example.com", "s3cret")
    world.allow_impersonation("svc@example.com", "alice@example.com", "bob@example.com")
    with serve_in_thread(world) as running:
        yield running


def account(ews: RunningEws, mailbox: str = "alice@example.com", password: str = "s3cret") -> Account:
    config = Configuration(
        service_endpoint=ews.ews_url,
        credentials=Credentials("svc@example.com", password),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
        retry_policy=FailFast(),
        max_connections=4,
    )
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)


def at(hour: int, day: int = 6) -> EWSDateTime:
    return EWSDateTime(2026, 5, day, hour, 0, tzinfo=UTC)


def test_given_allowed_mailbox_when_saving_without_invitations_then_item_is_stored_and_nobody_mailed(
    ews: RunningEws,
) -> None:
    acc = account(ews)
    item = CalendarItem(
        account=acc, folder=acc.calendar, subject="Standup", start=at(9), end=at(10), body="hi"
    )
    item.save(send_meeting_invitations="SendToNone")

    stored = ews.control.calendar("alice@example.com")
    assert [i["subject"] for i in stored] == ["Standup"]
    assert ews.counters.invitations == []
