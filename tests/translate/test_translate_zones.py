"""Windows <-> IANA zone names come from the CLDR table and fail loudly for unknown names."""

from __future__ import annotations

import pytest

from calbridge.translate import UnknownTimeZone
from calbridge.translate.zones import iana_to_windows, to_iana


@pytest.mark.parametrize(
    ("windows", "iana"),
    [
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("Romance Standard Time", "Europe/Paris"),
        ("GMT Standard Time", "Europe/London"),
    ],
)
def test_given_a_windows_zone_when_mapped_then_the_cldr_preferred_iana_zone(windows: str, iana: str) -> None:
    assert to_iana(windows) == iana
    assert iana_to_windows(iana) == windows


def test_given_india_standard_time_when_mapped_then_an_iana_zone_with_the_same_rules() -> None:
    assert to_iana("India Standard Time") in ("Asia/Kolkata", "Asia/Calcutta")
    assert iana_to_windows("Asia/Kolkata") == "India Standard Time"
    assert iana_to_windows("Asia/Calcutta") == "India Standard Time"


def test_given_an_iana_name_from_graph_when_read_then_kept_as_is() -> None:
    assert to_iana("Europe/Amsterdam") == "Europe/Amsterdam"
    assert iana_to_windows("Europe/Amsterdam") == "W. Europe Standard Time"


@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "GMT"])
def test_given_utc_spellings_when_mapped_then_utc(name: str) -> None:
    assert to_iana(name) == "UTC"
    assert iana_to_windows(name) == "UTC"


@pytest.mark.parametrize("name", ["tzone://Microsoft/Custom", "Mars Standard Time", "", "../etc/passwd"])
def test_given_an_unknown_zone_when_mapped_then_unknown_time_zone(name: str) -> None:
    with pytest.raises(UnknownTimeZone):
        to_iana(name)
    with pytest.raises(UnknownTimeZone):
        iana_to_windows(name)
