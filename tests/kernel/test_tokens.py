"""Signed channel tokens / clientState: what verifies, what is refused and why, and size limits."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbridge.events import Provider
from calbridge.providers.registry import profile_for
from calbridge.tokens import (
    BadSignature,
    ExpiredToken,
    MalformedToken,
    TokenError,
    TokenTooLong,
    UnknownKey,
    VerifiedToken,
    WrongProvider,
    sign_token,
    verify_token,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=7)
OLD = {"old": b"o" * 32}
NEW = {"new": b"n" * 40}
ROTATED = {**NEW, **OLD}  # new signs, old still verifies
REF_CHARS = string.ascii_letters + string.digits + "_-"


def clock() -> datetime:
    return NOW


def max_length(provider: Provider) -> int:
    token_format = profile_for(provider).token
    assert token_format is not None
    return token_format.max_length


def graph(ref: str = "cal_1", keys: dict[str, bytes] = NEW, expires: datetime = LATER) -> str:
    return sign_token(Provider.GRAPH, ref, expires, keys)


def google(ref: str = "cal_1", channel: str = "chan-1", keys: dict[str, bytes] = NEW) -> str:
    return sign_token(Provider.GOOGLE, ref, LATER, keys, channel_id=channel)


def test_given_a_graph_token_when_verified_then_it_yields_ref_key_and_expiry() -> None:
    verified = verify_token(graph("cal_A-9"), Provider.GRAPH, NEW, clock=clock)
    assert verified == VerifiedToken(
        calendar_ref="cal_A-9", kid="new", expires_at=LATER.replace(microsecond=0)
    )


def test_given_a_google_token_when_verified_with_its_channel_then_it_yields_the_ref() -> None:
    token = google("cal_B", channel="c-77")
    assert verify_token(token, Provider.GOOGLE, NEW, channel_id="c-77", clock=clock).calendar_ref == "cal_B"


def test_given_a_google_token_when_presented_on_another_channel_then_the_mac_fails() -> None:
    token = google(channel="c-77")
    with pytest.raises(BadSignature):
        verify_token(token, Provider.GOOGLE, NEW, channel_id="c-78", clock=clock)


def test_given_a_google_token_when_verified_without_channel_then_refused_as_malformed() -> None:
    with pytest.raises(MalformedToken):
        verify_token(google(), Provider.GOOGLE, NEW, clock=clock)


def test_given_key_rotation_then_the_first_key_signs_and_both_keys_verify() -> None:
    fresh = graph(keys=ROTATED)
    issued_before_rotation = graph(keys=OLD)
    assert verify_token(fresh, Provider.GRAPH, ROTATED, clock=clock).kid == "new"
    assert verify_token(issued_before_rotation, Provider.GRAPH, ROTATED, clock=clock).kid == "old"


def test_given_a_retired_key_when_its_token_arrives_then_unknown_key() -> None:
    with pytest.raises(UnknownKey):
        verify_token(graph(keys=OLD), Provider.GRAPH, NEW, clock=clock)


def test_given_a_kid_that_exists_but_a_mac_from_another_secret_then_bad_signature() -> None:
    forged = graph(keys={"new": b"x" * 32})
    with pytest.raises(BadSignature):
        verify_token(forged, Provider.GRAPH, NEW, clock=clock)


def test_given_an_expired_token_then_expired_and_at_the_instant_of_expiry_too() -> None:
    token = graph(expires=NOW - timedelta(seconds=1))
    with pytest.raises(ExpiredToken):
        verify_token(token, Provider.GRAPH, NEW, clock=clock)
    with pytest.raises(ExpiredToken):
        verify_token(graph(expires=NOW), Provider.GRAPH, NEW, clock=clock)


def test_given_a_forged_token_with_past_expiry_then_counted_as_forged_not_expired() -> None:
    forged = graph(keys={"new": b"x" * 32}, expires=NOW - timedelta(days=1))
    with pytest.raises(BadSignature):
        verify_token(forged, Provider.GRAPH, NEW, clock=clock)


def test_given_a_google_token_presented_as_client_state_then_wrong_provider() -> None:
    token = sign_token(Provider.GOOGLE, "cal_1", LATER, NEW, channel_id="x")
    with pytest.raises(WrongProvider):
        verify_token(token, Provider.GRAPH, NEW, clock=clock)
    with pytest.raises(WrongProvider):
        verify_token(graph(), Provider.GOOGLE, NEW, channel_id="x", clock=clock)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "1m.cal.new.abc",
        "1m.cal.new.abc.mac.extra",
        "2m.cal.new.abc." + "A" * 43,
        "1x.cal.new.abc." + "A" * 43,
        "1m.c@l.new.abc." + "A" * 43,
        "1m.cal.n_w.abc." + "A" * 43,
        "1m.cal.new.0abc." + "A" * 43,
        "1m.cal.new.ABC." + "A" * 43,
        "1m.cal.new.abc." + "A" * 42,
        "1m..new.abc." + "A" * 43,
    ],
)
def test_given_a_malformed_token_then_malformed(token: str) -> None:
    with pytest.raises(MalformedToken):
        verify_token(token, Provider.GRAPH, NEW, clock=clock)


def test_given_an_over_length_value_then_too_long_before_any_parsing() -> None:
    with pytest.raises(TokenTooLong):
        verify_token("1m." + "a" * 126, Provider.GRAPH, NEW, clock=clock)
    with pytest.raises(TokenTooLong):
        verify_token("x" * 257, Provider.GOOGLE, NEW, channel_id="c", clock=clock)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"provider": Provider.GRAPH, "calendar_ref": "a" * 65}, "calendar ref"),
        ({"provider": Provider.GRAPH, "calendar_ref": "a.b"}, "calendar ref"),
        ({"provider": Provider.GRAPH, "channel_id": "c"}, "only channel-bound tokens"),
        ({"provider": Provider.GOOGLE}, "channel id"),
        ({"provider": Provider.EWS}, "no calbridge token"),
        ({"provider": Provider.GRAPH, "expires_at": datetime(2026, 1, 1)}, "timezone"),
        ({"provider": Provider.GRAPH, "keys": {}}, "no signing key"),
    ],
)
def test_given_bad_arguments_when_signing_then_value_error_says_what(
    kwargs: dict[str, object], problem: str
) -> None:
    arguments: dict[str, object] = {"calendar_ref": "cal", "expires_at": LATER, "keys": NEW, **kwargs}
    provider = arguments.pop("provider")
    with pytest.raises(ValueError, match=problem):
        sign_token(provider, **arguments)  # type: ignore[arg-type]


refs = st.text(alphabet=REF_CHARS, min_size=1, max_size=64)
kids = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8)
expiries = st.datetimes(
    min_value=datetime(2026, 6, 2), max_value=datetime(4000, 1, 1), timezones=st.just(UTC)
)
channels = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=64)


@settings(max_examples=300, deadline=None)
@given(
    ref=refs,
    kid=kids,
    expires=expiries,
    provider=st.sampled_from([Provider.GOOGLE, Provider.GRAPH]),
    channel=channels,
)
def test_property_any_signed_token_fits_its_limit_and_verifies(
    ref: str, kid: str, expires: datetime, provider: Provider, channel: str
) -> None:
    keys = {kid: b"s" * 32}
    channel_id = channel if provider is Provider.GOOGLE else None
    token = sign_token(provider, ref, expires, keys, channel_id=channel_id)
    assert len(token) <= max_length(provider)
    assert verify_token(token, provider, keys, channel_id=channel_id, clock=clock).calendar_ref == ref


def test_given_the_longest_ref_kid_and_expiry_then_the_graph_token_is_exactly_128() -> None:
    token = sign_token(Provider.GRAPH, "r" * 64, datetime(4000, 1, 1, tzinfo=UTC), {"k" * 8: b"s" * 32})
    assert len(token) == 128


@settings(max_examples=300, deadline=None)
@given(ref=refs, data=st.data())
def test_property_changing_any_character_makes_the_token_fail(ref: str, data: st.DataObject) -> None:
    token = sign_token(Provider.GRAPH, ref, LATER, ROTATED)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from(REF_CHARS + ".").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(TokenError):
        verify_token(tampered, Provider.GRAPH, ROTATED, clock=clock)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_property_arbitrary_text_is_refused_with_a_token_error_only(text: str) -> None:
    with pytest.raises(TokenError):
        verify_token(text, Provider.GRAPH, ROTATED, clock=clock)
    with pytest.raises(TokenError):
        verify_token(text, Provider.GOOGLE, ROTATED, channel_id="c", clock=clock)
