"""The pure decisions behind the routes, without HTTP: what a batch becomes and how it is answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from receiver_fixtures import KEYS, NOW, fixed_clock, flip_last, google_token, graph_state

from calbridge.events import ChangeKind
from calbridge.tokens import BadSignature
from receiver.google import interpret_google, read_google_headers
from receiver.graph import interpret_graph, refusal_for
from receiver.refusals import BadRequest, Forbidden


def graph_batch(*states: str, change_type: object = "updated") -> list[object]:
    return [{"changeType": change_type, "clientState": state} for state in states]


def test_given_authentic_and_forged_items_then_the_batch_is_accepted_with_the_forged_counted() -> None:
    batch = interpret_graph(
        graph_batch(graph_state("a"), flip_last(graph_state("b"))), KEYS, trace_id="t", clock=fixed_clock
    )
    assert [m.calendar for m in batch.messages] == ["a"]
    assert (batch.outcomes["accepted"], batch.outcomes["forged"]) == (1, 1)
    assert batch.auth_failures == {"bad_signature": 1}
    assert refusal_for(batch) is None


def test_given_only_expired_items_then_forbidden() -> None:
    expired = graph_state("a", expires=NOW - timedelta(hours=1))
    batch = interpret_graph(graph_batch(expired), KEYS, trace_id="t", clock=fixed_clock)
    assert batch.messages == [] and batch.outcomes["expired"] == 1
    assert isinstance(refusal_for(batch), Forbidden)


def test_given_only_shapeless_items_then_bad_request() -> None:
    batch = interpret_graph([1, "x", None], KEYS, trace_id="t", clock=fixed_clock)
    assert batch.outcomes["malformed"] == 3
    assert isinstance(refusal_for(batch), BadRequest)


def test_given_an_authentic_item_with_a_non_text_change_type_then_it_is_malformed() -> None:
    batch = interpret_graph(
        graph_batch(graph_state("a"), change_type=7), KEYS, trace_id="t", clock=fixed_clock
    )
    assert batch.outcomes["malformed"] == 1
    assert isinstance(refusal_for(batch), BadRequest)


def test_given_google_headers_then_a_changed_event_carries_the_message_number() -> None:
    headers = {
        "x-goog-channel-id": "chan-1",
        "x-goog-channel-token": google_token("cal_1", "chan-1"),
        "x-goog-resource-state": "exists",
        "x-goog-message-number": "17",
    }
    event = interpret_google(read_google_headers(headers), KEYS, trace_id="t", clock=fixed_clock)
    assert event is not None
    assert (event.calendar, event.kind, event.version, event.trace_id) == (
        "cal_1",
        ChangeKind.CHANGED,
        "17",
        "t",
    )
    replayed = read_google_headers({**headers, "x-goog-channel-id": "chan-2"})
    with pytest.raises(BadSignature):
        interpret_google(replayed, KEYS, trace_id="t", clock=fixed_clock)
