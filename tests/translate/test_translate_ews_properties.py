"""Property tests: generated Events survive Event -> EWS fields -> (as Exchange returns them) ->
Event with the same content_hash, for timed events around DST transitions, all-day events and
every recurrence pattern EWS can express; and the visible fields alone carry a native event."""

from __future__ import annotations

from ews_echo import ews_echo
from hypothesis import given
from hypothesis import strategies as st
from test_translate_properties import ALIASED_ZONES, SETTINGS, STAMP, canonical_zones, events

from calbridge.model import Event, content_hash
from calbridge.translate.ews import ews_fields, fetched_from_ews


@SETTINGS
@given(
    event=events(zones=canonical_zones() + ALIASED_ZONES, native_to_graph=False),
    mailbox_zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Auckland", "America/Los_Angeles"]),
)
def test_property_event_to_ews_and_back_keeps_the_hash(event: Event, mailbox_zone: str) -> None:
    again = fetched_from_ews(ews_echo(ews_fields(event, STAMP, detail="full", all_day_zone=mailbox_zone)))
    assert content_hash(again.event) == content_hash(event)
    assert again.stamp == STAMP


@SETTINGS
@given(event=events(zones=canonical_zones(), native_to_graph=True))
def test_property_ews_visible_fields_alone_keep_the_hash(event: Event) -> None:
    # No calbridge marks: the pattern, StartTimeZone and instants must carry the meeting by themselves.
    again = fetched_from_ews(ews_echo(ews_fields(event, STAMP, detail="full"), drop_marks=True))
    assert content_hash(again.event) == content_hash(event)
    assert again.stamp is None
