"""Redaction ("programma oscuratore", R21, R22): boxes over people, faces, plates, bystanders.

Perugia's rules (All. 1 §8, §10) let copies for third parties out only through a redaction
tool, and a data subject may see only the images that concern them; Lumezzane 5.3ter asks
that traffic-violation evidence hides passengers and uninvolved people. So:

- A :class:`RedactionBox` is a rectangle in normalised coordinates (like masks: one box fits
  every size) with a kind and a wall-clock time range ``[start, end)``. ``blur`` pixelates
  then blurs what is under it (shapes stay, identities do not); ``solid`` paints it black;
  ``keep`` marks the data subject: as soon as a plan has one keep box, **everything outside
  the keep boxes in force is painted black**, and a frame with no keep box in force is
  black entirely (the "show only the subject" mode fails closed).
- Who receives the copy decides whether a plan is mandatory (:func:`check_recipient`): a
  data subject needs keep boxes, any other third party needs a reviewed plan; judicial
  authority and police forces get the footage as recorded (privacy masks still apply).
  Placing boxes needs the ``redact`` permission (checked by the export).
- :class:`Detector` proposes boxes over people (OpenCV's HOG people detector) and faces
  (OpenCV's Haar frontal-face cascade), both shipped inside the opencv wheel: nothing is
  downloaded. Proposals are only proposals: the operator reviews them; a detector never
  decides alone what is hidden, and misses are expected (small or turned faces).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import numpy as np

from registry.errors import CentraleError
from registry.i18n import N_, _

#: Smallest box side accepted, as a fraction of the picture (a slip of the hand otherwise).
MIN_SIDE: Final = 0.005
MAX_BOXES: Final = 2000
#: Fraction of a detected box's size added on each side of a proposal.
PROPOSAL_MARGIN: Final = 0.15


class RedactionError(CentraleError):
    title = N_("Redaction")


class RedactionRequired(RedactionError):
    """A copy for this recipient may not leave without redaction (R21)."""

    title = N_("Redaction required")


class RedactionKind(StrEnum):
    BLUR = "blur"
    SOLID = "solid"
    #: the data subject: only what keep boxes cover is shown
    KEEP = "keep"


class RecipientKind(StrEnum):
    """Who receives an exported copy; decides whether redaction is mandatory."""

    JUDICIAL_AUTHORITY = "judicial_authority"
    POLICE_FORCE = "police_force"
    DATA_SUBJECT = "data_subject"
    THIRD_PARTY = "third_party"

    @property
    def display_title(self) -> str:
        return _(_RECIPIENT_TITLES[self])

    @property
    def legal_title(self) -> str:
        """Italian wording for the chain-of-custody sheet."""
        return _RECIPIENT_LEGAL[self]

    @property
    def needs_redaction(self) -> bool:
        return self in (RecipientKind.DATA_SUBJECT, RecipientKind.THIRD_PARTY)


_RECIPIENT_TITLES: dict[RecipientKind, str] = {
    RecipientKind.JUDICIAL_AUTHORITY: N_("Judicial authority"),
    RecipientKind.POLICE_FORCE: N_("Police force"),
    RecipientKind.DATA_SUBJECT: N_("Data subject"),
    RecipientKind.THIRD_PARTY: N_("Other third party"),
}
_RECIPIENT_LEGAL: dict[RecipientKind, str] = {
    RecipientKind.JUDICIAL_AUTHORITY: "Autorità giudiziaria",
    RecipientKind.POLICE_FORCE: "Forza di polizia",
    RecipientKind.DATA_SUBJECT: "Interessato",
    RecipientKind.THIRD_PARTY: "Altro soggetto terzo",
}


def _aware(at: datetime, where: str) -> datetime:
    if at.tzinfo is None:
        raise RedactionError(_("{where}: the time must carry its time zone").format(
            where=where))
    return at


@dataclass(frozen=True)
class RedactionBox:
    """One box: ``x0 < x1``, ``y0 < y1`` in [0, 1]; in force for ``start <= t < end``."""

    x0: float
    y0: float
    x1: float
    y1: float
    kind: RedactionKind
    start: datetime
    end: datetime
    #: what it covers ("face", "person", "plate", or the operator's words)
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "x1", "y1"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise RedactionError(_("{name} = {value}: use a number from 0 to 1").format(
                    name=name, value=value))
        if self.x1 - self.x0 < MIN_SIDE or self.y1 - self.y0 < MIN_SIDE:
            raise RedactionError(_("the box ({x0}, {y0})-({x1}, {y1}) is empty or too small")
                                 .format(x0=self.x0, y0=self.y0, x1=self.x1, y1=self.y1))
        _aware(self.start, "start")
        _aware(self.end, "end")
        if self.end <= self.start:
            raise RedactionError(_("a box must end after it starts"))

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Pixel bounds, rounded outwards: a half-covered pixel is covered."""
        return (max(0, math.floor(self.x0 * width)), max(0, math.floor(self.y0 * height)),
                min(width, math.ceil(self.x1 * width)), min(height, math.ceil(self.y1 * height)))

    def to_json(self) -> dict[str, Any]:
        return {"rect": [self.x0, self.y0, self.x1, self.y1], "kind": str(self.kind),
                "from": self.start.isoformat(), "to": self.end.isoformat(),
                "label": self.label}  # fmt: skip

    @classmethod
    def from_json(cls, data: Any, where: str = "box") -> RedactionBox:
        if not isinstance(data, dict):
            raise RedactionError(_("{where}: expected an object").format(where=where))
        try:
            rect = data["rect"]
            x0, y0, x1, y1 = (float(v) for v in rect)
            kind = RedactionKind(data["kind"])
            start = datetime.fromisoformat(data["from"])
            end = datetime.fromisoformat(data["to"])
        except KeyError as exc:
            raise RedactionError(_("{where}: missing key {key}").format(
                where=where, key=exc.args[0])) from exc
        except (TypeError, ValueError) as exc:
            raise RedactionError(_("{where}: {error}").format(where=where, error=exc)) from exc
        try:
            return cls(x0, y0, x1, y1, kind, start, end, str(data.get("label", "")))
        except RedactionError as exc:
            raise RedactionError(f"{where}: {exc.message}") from exc


@dataclass(frozen=True)
class RedactionPlan:
    """Every box of one export."""

    boxes: tuple[RedactionBox, ...] = ()

    def __post_init__(self) -> None:
        if len(self.boxes) > MAX_BOXES:
            raise RedactionError(_("at most {n} boxes per export").format(n=MAX_BOXES))

    def __bool__(self) -> bool:
        return bool(self.boxes)

    @property
    def subject_only(self) -> bool:
        """Data-subject mode: only what keep boxes cover is shown."""
        return any(b.kind is RedactionKind.KEEP for b in self.boxes)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the plan changes any frame of ``[start, end)`` (subject mode: always)."""
        return self.subject_only or any(b.start < end and start < b.end for b in self.boxes)

    def to_json(self) -> dict[str, Any]:
        return {"subject_only": self.subject_only,
                "boxes": [b.to_json() for b in self.boxes]}  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> RedactionPlan:
        if not isinstance(data, dict) or not isinstance(data.get("boxes"), list):
            raise RedactionError(_("a redaction file is an object with a list \"boxes\""))
        return cls(tuple(RedactionBox.from_json(b, f"boxes[{i}]")
                         for i, b in enumerate(data["boxes"])))  # fmt: skip

    @classmethod
    def loads(cls, text: str) -> RedactionPlan:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise RedactionError(_("not valid JSON: {error}").format(error=exc)) from exc


NO_REDACTION: Final = RedactionPlan()


def check_recipient(recipient: RecipientKind, plan: RedactionPlan) -> None:
    """Refuse a plan that does not fit the recipient (R21): raises RedactionRequired."""
    if recipient is RecipientKind.DATA_SUBJECT and not plan.subject_only:
        raise RedactionRequired(_(
            "A copy for the data subject shows only the subject: mark the subject with "
            "keep boxes (everything else is obscured)."))
    if recipient is RecipientKind.THIRD_PARTY and not plan:
        raise RedactionRequired(_(
            "A copy for a third party leaves only through the redaction tool: obscure the "
            "people and plates that do not concern them."))


# --------------------------------------------------------------------------------------
# Applying a plan to a frame
# --------------------------------------------------------------------------------------


def _blur(region: np.ndarray) -> None:
    """Pixelate then smooth *region* in place: about six blocks across, whatever its size."""
    import cv2

    h, w = region.shape[:2]
    block = max(8, max(w, h) // 6)
    small = cv2.resize(region, (max(1, w // block), max(1, h // block)),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    k = block | 1
    region[...] = cv2.GaussianBlur(big, (k, k), 0)


def apply_redactions(frame: np.ndarray, plan: RedactionPlan, at: datetime) -> np.ndarray:
    """*frame* (RGB ``uint8``, (H, W, 3)) with the boxes in force at *at*; in place."""
    if not plan:
        return frame
    height, width = frame.shape[:2]
    active = [b for b in plan.boxes if b.active(at)]
    if plan.subject_only:
        keep = np.zeros((height, width), dtype=bool)
        for b in active:
            if b.kind is RedactionKind.KEEP:
                x0, y0, x1, y1 = b.pixels(width, height)
                keep[y0:y1, x0:x1] = True
        frame[~keep] = 0
    for b in active:
        if b.kind is RedactionKind.KEEP:
            continue
        x0, y0, x1, y1 = b.pixels(width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        if b.kind is RedactionKind.SOLID:
            frame[y0:y1, x0:x1] = 0
        else:
            _blur(frame[y0:y1, x0:x1])
    return frame


# --------------------------------------------------------------------------------------
# Proposals from OpenCV's own detectors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """One thing a detector found in one frame (normalised rectangle)."""

    what: str  # "person" or "face"
    x0: float
    y0: float
    x1: float
    y1: float
    score: float


@dataclass
class Detector:
    """HOG people detector and Haar face cascade, loaded once (both ship with OpenCV).

    ``people_width``: frames are scaled to this width for the people detector (HOG's window
    is 64x128: people smaller than about 100 px at that width are missed; larger widths find
    smaller people and cost more).
    """

    people: bool = True
    faces: bool = True
    people_width: int = 768
    _hog: Any = field(default=None, init=False, repr=False)
    _faces: Any = field(default=None, init=False, repr=False)

    def _load(self) -> None:
        import cv2

        if self.people and self._hog is None:
            hog: Any = cv2.HOGDescriptor()
            hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())  # type: ignore[call-overload]
            self._hog = hog
        if self.faces and self._faces is None:
            data: Any = cv2.data  # type: ignore[attr-defined]
            path = data.haarcascades + "haarcascade_frontalface_default.xml"
            cascade = cv2.CascadeClassifier(path)
            if cascade.empty():  # pragma: no cover - the wheel ships it
                raise RedactionError(_("the face detector could not be loaded from {path}")
                                     .format(path=path))
            self._faces = cascade

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """People and faces in one RGB frame."""
        import cv2

        self._load()
        height, width = frame.shape[:2]
        found: list[Detection] = []
        if self._hog is not None:
            scale = min(1.0, self.people_width / width)
            small = frame if scale == 1.0 else cv2.resize(
                frame, (round(width * scale), round(height * scale)),
                interpolation=cv2.INTER_AREA)  # fmt: skip
            rects, weights = self._hog.detectMultiScale(small, winStride=(8, 8),
                                                        padding=(8, 8), scale=1.05)
            sw, sh = small.shape[1], small.shape[0]
            for (x, y, w, h), score in zip(rects, np.ravel(weights), strict=False):
                found.append(Detection("person", x / sw, y / sh, (x + w) / sw, (y + h) / sh,
                                       float(score)))  # fmt: skip
        if self._faces is not None:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            faces = self._faces.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                                 minSize=(16, 16))
            for x, y, w, h in faces:
                found.append(Detection("face", x / width, y / height, (x + w) / width,
                                       (y + h) / height, 1.0))  # fmt: skip
        return found

    def propose(self, frames: Iterable[tuple[datetime, np.ndarray]],
                every: timedelta = timedelta(seconds=1)) -> list[RedactionBox]:  # fmt: skip
        """Blur boxes for what is found in one frame every *every*, each in force from
        *every* before to *every* after its frame (people move), with a margin around.

        Only proposals: the operator keeps, moves or drops each one.
        """
        boxes: list[RedactionBox] = []
        next_at: datetime | None = None
        for at, frame in frames:
            if next_at is not None and at < next_at:
                continue
            next_at = at + every
            for d in self.detect(frame):
                boxes.append(_proposal(d, at - every, at + every))
        return boxes


def _proposal(d: Detection, start: datetime, end: datetime) -> RedactionBox:
    mx, my = (d.x1 - d.x0) * PROPOSAL_MARGIN, (d.y1 - d.y0) * PROPOSAL_MARGIN
    return RedactionBox(max(0.0, d.x0 - mx), max(0.0, d.y0 - my), min(1.0, d.x1 + mx),
                        min(1.0, d.y1 + my), RedactionKind.BLUR, start, end, d.what)


def merge(plans: Sequence[RedactionPlan]) -> RedactionPlan:
    return RedactionPlan(tuple(b for p in plans for b in p.boxes))
