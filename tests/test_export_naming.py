"""The exported file's name: date and place in the site's time zone, readable ASCII (R20)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from footage.naming import MAX_PLACE, NAME_PATTERN, NO_PLACE, export_name, slug_place

ROME = ZoneInfo("Europe/Rome")


@pytest.mark.parametrize(("place", "slug"), [
    ("Piazza Università", "Piazza-Universita"),
    ("Via Sant'Antonio", "Via-Sant-Antonio"),
    ("Via Monsignor G. Bertoli", "Via-Monsignor-G-Bertoli"),
    ("Piazza dell’Unità d’Italia", "Piazza-dell-Unita-d-Italia"),
    ("  Corso  Città di Castello / lato nord ", "Corso-Citta-di-Castello-lato-nord"),
    ("Straße Æbelø", "Strasse-AEbelo"),
    ("Viale 4 Novembre n°12", "Viale-4-Novembre-n-12"),
    ("???", NO_PLACE),
])  # fmt: skip
def test_place_slugs_keep_accented_letters_readable(place: str, slug: str) -> None:
    assert slug_place(place) == slug


def test_long_places_are_cut_at_a_word() -> None:
    slug = slug_place("Piazza " + "Garibaldi " * 10)
    assert len(slug) <= MAX_PLACE and not slug.endswith("-") and slug.endswith("Garibaldi")


def test_names_use_the_site_time_zone_and_round_the_end_up() -> None:
    # 08:58:10 UTC is 09:58 in Rome (winter, UTC+1); the end 09:05:30 UTC -> 10:06
    start = datetime(2026, 1, 20, 8, 58, 10, tzinfo=UTC)
    end = datetime(2026, 1, 20, 9, 5, 30, tzinfo=UTC)
    name = export_name(start, end, "Piazza Università", "cam-1", ROME)
    assert name == "2026-01-20_0958-1006_Piazza-Universita_cam-1"
    assert NAME_PATTERN.fullmatch(name)
    # summer time (UTC+2), and the date is the local one
    night = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    assert export_name(night, night.replace(minute=40), "Via Roma", "c", ROME) == (
        "2026-07-02_0030-0040_Via-Roma_c")
    with pytest.raises(ValueError):
        export_name(datetime(2026, 1, 1), datetime(2026, 1, 2), "x", "c", ROME)
