"""The out-of-office mirror's plan: pure, with the time given. Exactly once and no echo come from
the record a pass leaves and the stamp on calbridge's own Google event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calbridge.meetings.oof_mirror import OPEN_END, Absence, OofRecord, OofStep, StepKind, plan_oof
from calbridge.pairs.policy import Side

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MON, FRI = NOW + timedelta(days=1), NOW + timedelta(days=5)
PAIR = "p1"


def test_given_an_outlook_reply_and_nothing_mirrored_then_a_google_event_is_made_and_recorded() -> None:
    steps, record = plan_oof(PAIR, [], [Absence(MON, FRI)], None, NOW)
    assert steps == [OofStep(Side.GOOGLE, StepKind.PUT, Absence(MON, FRI))]
    assert record == OofRecord(Side.MICROSOFT, MON, FRI)


def test_given_the_mirror_made_then_the_next_pass_writes_nothing() -> None:
    record = OofRecord(Side.MICROSOFT, MON, FRI, "ev1")
    google = [Absence(MON, FRI, "ev1", PAIR)]
    assert plan_oof(PAIR, google, [Absence(MON, FRI)], record, NOW) == ([], record)


def test_given_the_reply_changed_or_turned_off_then_the_google_event_follows() -> None:
    record = OofRecord(Side.MICROSOFT, MON, FRI, "ev1")
    google = [Absence(MON, FRI, "ev1", PAIR)]
    later = FRI + timedelta(days=2)
    steps, kept = plan_oof(PAIR, google, [Absence(MON, later)], record, NOW)
    assert steps == [OofStep(Side.GOOGLE, StepKind.PUT, Absence(MON, later, "ev1"))]
    assert kept == OofRecord(Side.MICROSOFT, MON, later, "ev1")
    steps, kept = plan_oof(PAIR, google, [], record, NOW)
    assert steps == [OofStep(Side.GOOGLE, StepKind.CLEAR, google[0])] and kept is None


def test_given_a_reply_on_until_turned_off_then_the_google_event_lasts_a_week_from_now() -> None:
    steps, record = plan_oof(PAIR, [], [Absence(None, None)], None, NOW)
    assert steps == [OofStep(Side.GOOGLE, StepKind.PUT, Absence(NOW, NOW + OPEN_END))]
    assert record == OofRecord(Side.MICROSOFT, None, None)
    later = NOW + timedelta(hours=3)  # the same reply, seen later: nothing to write
    assert (
        plan_oof(PAIR, [Absence(NOW, NOW + OPEN_END, "ev1", PAIR)], [Absence(None, None)], record, later)[0]
        == []
    )


def test_given_a_persons_google_event_then_the_outlook_reply_is_scheduled_and_never_echoed() -> None:
    google = [Absence(MON, FRI, "own", None)]
    steps, record = plan_oof(PAIR, google, [], None, NOW)
    assert steps == [OofStep(Side.MICROSOFT, StepKind.PUT, Absence(MON, FRI))]
    assert record == OofRecord(Side.GOOGLE, MON, FRI, "own")
    # the reply calbridge wrote is recognised by the record: no Google event comes back from it
    assert plan_oof(PAIR, google, [Absence(MON, FRI)], record, NOW) == ([], record)


def test_given_the_persons_google_event_deleted_then_the_reply_is_turned_off_unless_changed_in_outlook() -> (
    None
):
    record = OofRecord(Side.GOOGLE, MON, FRI, "own")
    steps, kept = plan_oof(PAIR, [], [Absence(MON, FRI)], record, NOW)
    assert steps == [OofStep(Side.MICROSOFT, StepKind.CLEAR, Absence(MON, FRI))] and kept is None
    changed = Absence(MON, FRI + timedelta(days=3))  # the person's own edit in Outlook wins
    assert plan_oof(PAIR, [], [changed], record, NOW) == ([], None)


def test_given_both_set_by_the_person_or_another_pairs_event_then_nothing_is_written() -> None:
    both = plan_oof(PAIR, [Absence(MON, FRI, "own", None)], [Absence(MON, FRI)], None, NOW)
    assert both == ([], None)
    other_pairs = [Absence(MON, FRI, "ev9", "p9")]
    steps, _ = plan_oof(PAIR, other_pairs, [Absence(MON, FRI)], None, NOW)
    assert steps == [OofStep(Side.GOOGLE, StepKind.PUT, Absence(MON, FRI))]


def test_a_record_survives_a_round_trip_through_json() -> None:
    record = OofRecord(Side.GOOGLE, MON, None, "own")
    assert OofRecord.from_json(record.as_json()) == record
    assert OofRecord.from_json({"origin": "elsewhere"}) is None
