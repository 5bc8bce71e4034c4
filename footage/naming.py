"""The exported file's name: ``YYYY-MM-DD_HHMM-HHMM_<place>_<camera>`` (R20, Lum. 6.13).

The regulation asks for the file to be "renamed with date and place". The name is read by a
clerk at the prosecutor's office, typed into a case file, and copied onto media formatted
with FAT or exFAT, opened on Windows: so it is plain ASCII, without spaces or characters any
of those refuse, and short. Choices:

- times in the **site's time zone** (what the operator and the prosecutor read on the
  clock), the date of the start; start and end to the minute, the end rounded *up* so the
  named span always contains the exported one (10:00:00-10:05:30 is ``1000-1006``);
- the place **slugged**: accents are taken off letters and kept as the bare letter
  ("Piazza Università" -> ``Piazza-Universita``, "Via Sant'Antonio" ->
  ``Via-Sant-Antonio``), capitals kept, every other run of characters one ``-``;
  at most :data:`MAX_PLACE` characters, cut at a ``-``;
- the camera id as configured (already lower-case letters, digits, ``-`` and ``_``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

#: Longest place part of a name (whole names stay well under the 255 bytes of every
#: filesystem, and readable in a file dialog).
MAX_PLACE: Final = 48
#: The place part when nothing readable is left of the place (e.g. only symbols).
NO_PLACE: Final = "luogo"

#: Letters NFKD does not decompose into a base letter plus accents.
_SPECIAL: Final = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D",
}  # fmt: skip
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
NAME_PATTERN: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})_(\d{4})-(\d{4})_([A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)_([a-z0-9_-]+)"
)


def slug_place(place: str) -> str:
    """ASCII letters and digits of *place*, accents dropped, other runs as one ``-``."""
    text = "".join(_SPECIAL.get(c, c) for c in place)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    slug = _NOT_ALNUM.sub("-", text).strip("-")
    if len(slug) > MAX_PLACE:
        cut = slug[:MAX_PLACE]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug or NO_PLACE


def _minute_up(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


def export_name(start: datetime, end: datetime, place: str, camera: str, tz: ZoneInfo) -> str:
    """The base name (no extension) of an export of *camera* over ``[start, end)``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("export times must carry their time zone")
    local_start = start.astimezone(tz)
    local_end = _minute_up(end.astimezone(tz))
    return (f"{local_start:%Y-%m-%d}_{local_start:%H%M}-{local_end:%H%M}_"
            f"{slug_place(place)}_{camera}")  # fmt: skip
