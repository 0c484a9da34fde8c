"""The change-event envelope: round trips, and every malformed message is a clear error."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calbridge.errors import MalformedMessage, UnsupportedVersion
from calbridge.events import (
    ChangeEvent,
    ChangeKind,
    LifecycleEvent,
    LifecycleKind,
    Provider,
    decode_change,
    decode_lifecycle,
    encode,
)

refs = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


@given(
    provider=st.sampled_from(Provider),
    calendar=refs,
    kind=st.sampled_from(ChangeKind),
    resource=st.none() | st.text(max_size=200),
    attempt=st.integers(0, 50),
)
def test_change_event_round_trips(
    provider: Provider, calendar: str, kind: ChangeKind, resource: str | None, attempt: int
) -> None:
    event = ChangeEvent(provider=provider, calendar=calendar, kind=kind, resource=resource, attempt=attempt)
    assert decode_change(encode(event)) == event


def test_lifecycle_event_round_trips() -> None:
    event = LifecycleEvent(
        provider=Provider.GRAPH, calendar="cal1", kind=LifecycleKind.MISSED, subscription="sub-1"
    )
    assert decode_lifecycle(encode(event)) == event


def test_envelope_holds_references_only() -> None:
    body = orjson.loads(encode(ChangeEvent(provider=Provider.GOOGLE, calendar="c1", kind=ChangeKind.CHANGED)))
    assert set(body) <= {
        "v",
        "id",
        "provider",
        "calendar",
        "received_at",
        "trace_id",
        "kind",
        "resource",
        "version",
        "attempt",
        "reason",
    }


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        (b"not json", MalformedMessage, "not JSON"),
        (b"[1, 2]", MalformedMessage, "not a JSON object"),
        (b'{"v": 2, "provider": "google"}', UnsupportedVersion, "version 2"),
        (b'{"provider": "google"}', UnsupportedVersion, "version None"),
        (b'{"v": 1, "provider": "yahoo", "calendar": "c", "kind": "created"}', MalformedMessage, "provider"),
        (
            b'{"v": 1, "provider": "google", "calendar": "bad ref!", "kind": "created"}',
            MalformedMessage,
            "calendar",
        ),
        (
            b'{"v": 1, "provider": "google", "calendar": "c", "kind": "created", "title": "x"}',
            MalformedMessage,
            "title",
        ),
        (
            b'{"v": 1, "provider": "google", "calendar": "c", "kind": "created", "attempt": -1}',
            MalformedMessage,
            "attempt",
        ),
    ],
)
def test_malformed_messages_are_clear_errors(body: bytes, error: type[Exception], says: str) -> None:
    with pytest.raises(error) as caught:
        decode_change(body)
    assert says in str(caught.value)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_decoder(body: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        decode_change(body)
