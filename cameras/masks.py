"""Privacy masks and the one function that applies them (R7, DESIGN.md "Masks fail closed").

A mask is a polygon in normalised image coordinates (0..1 across, 0..1 down), so one mask
fits every size the picture is scaled to: a 320x180 tile, the 1280x720 main stream, an
export. A :class:`MaskSet` is the masks in force for one view (a fixed camera, or one
approved preset of a PTZ camera).

What a consumer may see of a frame is a :data:`MaskDecision`: :class:`Show` (with a mask set
blacked out) or :class:`Blank` (nothing, with the reason for the tile). Every frame that
leaves ``cameras/`` goes through :func:`apply_masks` with the decision of its camera's
:class:`MaskGate`; the gate of a PTZ camera is driven by ``ptz.maskstate``.

Rasterisation is conservative: a pixel is masked when any part of it touches a polygon,
because a scaled pixel averages everything under it, so a half-covered pixel still carries
colour from the masked area. Masks are rasterised once per (mask set, frame size) and cached.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np

from cameras.config import CameraConfig
from registry.errors import CentraleError
from registry.i18n import N_, _

#: Smallest polygon area accepted, as a fraction of the picture: smaller is a slip of the
#: hand, not a mask (1e-5 of a 1280x720 picture is 9 pixels).
MIN_AREA: Final = 1e-5
#: Most vertices in one polygon and most polygons in one set (bounded work per frame).
MAX_POINTS: Final = 64
MAX_POLYGONS: Final = 64

Point = tuple[float, float]


class MaskError(CentraleError):
    """A mask polygon or mask file cannot be used as it is."""

    title = N_("Invalid mask")


class BlankReason(StrEnum):
    """Why a camera's picture is not shown at all; the tile shows :attr:`label`."""

    MOVING = "moving"
    OFF_PRESET = "off_preset"
    UNKNOWN = "unknown"
    #: no gate registered for the camera: nobody has said whether its frames are safe
    NOT_CONFIGURED = "not_configured"

    @property
    def label(self) -> str:
        return {
            BlankReason.MOVING: _("moving"),
            BlankReason.OFF_PRESET: _("off preset"),
            BlankReason.UNKNOWN: _("position unknown"),
            BlankReason.NOT_CONFIGURED: _("privacy masks not loaded"),
        }[self]


# --------------------------------------------------------------------------------------
# Polygons and sets
# --------------------------------------------------------------------------------------


def _area(points: Sequence[Point]) -> float:
    """Unsigned shoelace area."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, (*points[1:], points[0]), strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when the segments properly cross or touch (collinear overlaps included)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on(a: Point, b: Point, c: Point) -> bool:  # c on segment ab, given collinear
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and (
            min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    return (
        (d1 == 0 and on(q1, q2, p1))
        or (d2 == 0 and on(q1, q2, p2))
        or (d3 == 0 and on(p1, p2, q1))
        or (d4 == 0 and on(p1, p2, q2))
    )


def _self_intersects(points: Sequence[Point]) -> bool:
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a vertex
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False


@dataclass(frozen=True)
class MaskPolygon:
    """One mask: 3 or more vertices in [0, 1] x [0, 1], a simple polygon with some area.

    Construct through :meth:`of` (which validates); the plain constructor validates too.
    """

    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        pts = self.points
        if len(pts) < 3:
            raise MaskError(
                _("a mask needs at least 3 points, got {n}").format(n=len(pts))
            )
        if len(pts) > MAX_POINTS:
            raise MaskError(
                _("a mask has at most {max} points, got {n}").format(max=MAX_POINTS, n=len(pts))
            )
        for i, (x, y) in enumerate(pts):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise MaskError(
                    _("point {i} ({x}, {y}) is outside the picture: use 0..1").format(
                        i=i + 1, x=x, y=y
                    )
                )
        if len(set(pts)) != len(pts):
            raise MaskError(_("a mask repeats a point"))
        if _self_intersects(pts):
            raise MaskError(_("the mask's edges cross each other"))
        if _area(pts) < MIN_AREA:
            raise MaskError(_("the mask has (almost) no area"))

    @classmethod
    def of(cls, points: Iterable[Sequence[float]]) -> MaskPolygon:
        """From any sequence of (x, y) pairs (lists from JSON, say)."""
        pts: list[Point] = []
        for i, p in enumerate(points):
            try:
                x, y = p
                pts.append((float(x), float(y)))
            except (TypeError, ValueError) as exc:
                raise MaskError(
                    _("point {i} is not a pair of numbers: {value}").format(i=i + 1, value=p)
                ) from exc
        return cls(tuple(pts))

    @classmethod
    def rectangle(cls, x0: float, y0: float, x1: float, y1: float) -> MaskPolygon:
        return cls(((x0, y0), (x1, y0), (x1, y1), (x0, y1)))

    def to_json(self) -> list[list[float]]:
        return [[x, y] for x, y in self.points]


@dataclass(frozen=True)
class MaskSet:
    """The masks of one view. Hashable: it is the rasterisation cache's key."""

    polygons: tuple[MaskPolygon, ...] = ()

    def __post_init__(self) -> None:
        if len(self.polygons) > MAX_POLYGONS:
            raise MaskError(
                _("at most {max} masks per view, got {n}").format(
                    max=MAX_POLYGONS, n=len(self.polygons)
                )
            )

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def __len__(self) -> int:
        return len(self.polygons)

    def to_json(self) -> list[list[list[float]]]:
        return [p.to_json() for p in self.polygons]

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any, where: str = "masks") -> MaskSet:
        """From ``[[[x, y], ...], ...]``; the error names ``where`` and the mask's number."""
        if not isinstance(data, list):
            raise MaskError(_("{where}: expected a list of polygons").format(where=where))
        polygons = []
        for i, item in enumerate(data):
            if not isinstance(item, list):
                raise MaskError(
                    _("{where}[{i}]: expected a list of [x, y] points").format(where=where, i=i)
                )
            try:
                polygons.append(MaskPolygon.of(item))
            except MaskError as exc:
                raise MaskError(f"{where}[{i}]: {exc.message}") from exc
        return cls(tuple(polygons))

    @classmethod
    def loads(cls, text: str, where: str = "masks") -> MaskSet:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MaskError(
                _("{where}: not valid JSON: {error}").format(where=where, error=exc)
            ) from exc
        return cls.from_json(data, where)


NO_MASKS: Final = MaskSet()


# --------------------------------------------------------------------------------------
# Decisions and the one function that applies them
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Show:
    """Show the picture with ``masks`` blacked out (an empty set shows it whole)."""

    masks: MaskSet = NO_MASKS


@dataclass(frozen=True)
class Blank:
    """Show nothing of the picture; the tile says :attr:`reason`."""

    reason: BlankReason


MaskDecision = Show | Blank

SHOW_ALL: Final = Show()
#: The decision for a camera without a gate.
NOT_CONFIGURED: Final = Blank(BlankReason.NOT_CONFIGURED)
BLANK_UNKNOWN: Final = Blank(BlankReason.UNKNOWN)


def _rasterise(masks: MaskSet, width: int, height: int) -> np.ndarray:
    """Boolean (H, W): True where any part of the pixel touches a polygon."""
    import cv2

    out = np.zeros((height, width), np.uint8)
    shift = 8  # sub-pixel vertex precision for fillPoly
    scale = float(1 << shift)
    polys = []
    for poly in masks.polygons:
        pts = np.array(poly.points, dtype=np.float64) * (width, height)
        polys.append(np.round(pts * scale).astype(np.int32).reshape(-1, 1, 2))
    # fillPoly fills the pixels whose centres are inside and draws the edges; growing the
    # result by one pixel covers every pixel the outline passes through (conservative).
    for poly_pts in polys:  # one at a time: fillPoly of several leaves overlaps empty
        cv2.fillPoly(out, [poly_pts], 1, lineType=cv2.LINE_8, shift=shift)
    grown: np.ndarray = cv2.dilate(out, np.ones((3, 3), np.uint8))
    return grown.astype(bool)


@dataclass
class _Raster:
    """A rasterised mask ready to apply.

    ``keep`` is (H, W, 3) ``uint8``: 0 where masked, 255 elsewhere, so masking is one
    ``bitwise_and`` over the frame: memory-bound, 6 µs for 320x180, against 20-400 µs for
    index or boolean assignment (bench/masks_bench.py, docs/design/masks.md).
    """

    keep: np.ndarray
    mask: np.ndarray  # (H, W) bool, True where masked


class _RasterCache:
    """LRU cache of rasters, bounded in bytes, shared by every reader thread."""

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[MaskSet, int, int], _Raster] = OrderedDict()

    def get(self, masks: MaskSet, width: int, height: int) -> _Raster:
        key = (masks, width, height)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        mask = _rasterise(masks, width, height)
        keep = np.repeat(np.where(mask, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        keep.flags.writeable = False
        mask.flags.writeable = False
        raster = _Raster(keep, mask)
        with self._lock:
            if key not in self._items:
                self._items[key] = raster
                self._bytes += keep.nbytes + mask.nbytes
            while self._bytes > self._max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.keep.nbytes + old.mask.nbytes
        return raster

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_cache = _RasterCache()


def mask_pixels(masks: MaskSet, width: int, height: int) -> np.ndarray:
    """Boolean (H, W) of the pixels ``masks`` hides at this size (for tests and editors)."""
    return _cache.get(masks, width, height).mask.copy()


def apply_masks(frame: np.ndarray, decision: MaskDecision | None) -> np.ndarray:
    """The frame as the decision allows it to be seen; modifies ``frame`` in place.

    ``frame`` is RGB ``uint8`` of shape (H, W, 3), any size. ``None`` (no decision known)
    blanks, like :class:`Blank`: a missing mask state never shows a picture.
    """
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) frame, got {frame.shape}")
    if not frame.flags.writeable or not frame.flags.c_contiguous:
        frame = np.ascontiguousarray(frame).copy()
    if isinstance(decision, Show):
        if not decision.masks:
            return frame
        height, width = frame.shape[:2]
        np.bitwise_and(frame, _cache.get(decision.masks, width, height).keep, out=frame)
        return frame
    frame.fill(0)
    return frame


def blank_reason(decision: MaskDecision | None) -> BlankReason | None:
    """The reason a decision blanks the picture, ``None`` when it shows it."""
    if isinstance(decision, Show):
        return None
    if isinstance(decision, Blank):
        return decision.reason
    return BlankReason.UNKNOWN


# --------------------------------------------------------------------------------------
# Gates: what each camera may show right now
# --------------------------------------------------------------------------------------


@dataclass
class MaskGate:
    """The current :data:`MaskDecision` of one camera, read by its readers once per frame.

    Thread-safe: the state machine sets it from its own thread, readers read it from theirs
    (a reference read, atomic in CPython; the lock orders writers).
    """

    camera_id: str
    _decision: MaskDecision | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def fixed(cls, camera_id: str, masks: MaskSet = NO_MASKS) -> MaskGate:
        """A fixed camera's gate: always shows, with its masks."""
        return cls(camera_id, Show(masks))

    @classmethod
    def ptz(cls, camera_id: str) -> MaskGate:
        """A PTZ camera's gate: blank until the state machine knows where the camera is."""
        return cls(camera_id, BLANK_UNKNOWN)

    def decision(self) -> MaskDecision:
        decision = self._decision
        return decision if decision is not None else BLANK_UNKNOWN

    def set(self, decision: MaskDecision) -> None:
        with self._lock:
            self._decision = decision


class MaskGates:
    """Every camera's gate, by camera id, for the whole process.

    Readers find their camera's gate here, so that whoever builds the readers (the stream
    hub) need not carry gates around. A camera with no registered gate is blank (fail closed:
    nobody has said whether its frames are safe); :func:`register_cameras`, called by the
    stream hub, registers every configured camera: fixed ones with their stored masks, PTZ
    ones blank until their state is known.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, MaskGate] = {}

    def register(self, gate: MaskGate) -> MaskGate:
        with self._lock:
            self._gates[gate.camera_id] = gate
        return gate

    def unregister(self, camera_id: str) -> None:
        with self._lock:
            self._gates.pop(camera_id, None)

    def get(self, camera_id: str) -> MaskGate | None:
        return self._gates.get(camera_id)

    def decision(self, camera_id: str) -> MaskDecision:
        gate = self._gates.get(camera_id)
        return gate.decision() if gate is not None else NOT_CONFIGURED


#: The process's gates (see :class:`MaskGates`).
GATES: Final = MaskGates()


def register_cameras(
    cameras: Iterable[CameraConfig],
    fixed_masks: Mapping[str, MaskSet] | None = None,
    gates: MaskGates = GATES,
) -> dict[str, MaskGate]:
    """Register a gate for each camera (``CameraConfig``): PTZ blank, fixed with its masks.

    ``fixed_masks`` are the stored masks of fixed cameras (``ptz.presets``); a camera that
    has none shows whole. ``None`` means the caller does not know them (a hub built without
    the database): existing gates are then left exactly as they are. Idempotent: a PTZ
    camera's existing gate is kept (its state machine holds it), a fixed camera's gets the
    given masks, so the order in which the hub, the console and the PTZ services start does
    not matter.
    """
    out: dict[str, MaskGate] = {}
    for cam in cameras:
        existing = gates.get(cam.id)
        if cam.is_ptz:
            gate = existing if existing is not None else gates.register(MaskGate.ptz(cam.id))
        else:
            decision = Show((fixed_masks or {}).get(cam.id, NO_MASKS))
            if existing is not None:
                # Only the stored masks may change a gate: a caller that does not know them
                # (None) must never take masks away that someone else loaded.
                if fixed_masks is not None:
                    existing.set(decision)
                gate = existing
            else:
                gate = gates.register(MaskGate(cam.id, decision))
        out[cam.id] = gate
    return out
