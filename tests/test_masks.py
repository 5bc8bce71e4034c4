"""Mask polygons, rasterisation and the one masking function (cameras/masks.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cameras.config import CameraConfig
from cameras.masks import (
    BLANK_UNKNOWN,
    NO_MASKS,
    Blank,
    BlankReason,
    MaskError,
    MaskGate,
    MaskGates,
    MaskPolygon,
    MaskSet,
    Show,
    apply_masks,
    blank_reason,
    mask_pixels,
    register_cameras,
)
from registry.i18n import set_language

RECT = MaskPolygon.rectangle(0.25, 0.25, 0.75, 0.75)


def _frame(w: int, h: int, value: int = 200) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("points", "fragment"),
    [
        ([(0, 0), (1, 0)], "at least 3 points"),
        ([(0, 0), (1.01, 0), (1, 1)], "outside the picture"),
        ([(0, 0), (1, 0), (1, -0.1)], "outside the picture"),
        ([(0, 0), (0.5, 0.5), (1, 1)], "no area"),  # collinear
        ([(0.1, 0.1), (0.1, 0.1), (0.5, 0.9)], "repeats a point"),
        ([(0, 0), (1, 1), (1, 0), (0, 1)], "cross"),  # bow-tie
        ([(0, 0), (0.000001, 0), (0, 0.000001)], "no area"),  # a speck
        ([(0, 0), (1, 0), "x"], "not a pair"),
    ],
)
def test_bad_polygons_are_refused_with_the_reason(points: list, fragment: str) -> None:
    with pytest.raises(MaskError, match=fragment):
        MaskPolygon.of(points)


def test_too_many_points_refused() -> None:
    ring = [(0.5 + 0.4 * np.cos(a), 0.5 + 0.4 * np.sin(a)) for a in np.linspace(0, 6.2, 65)]
    with pytest.raises(MaskError, match="at most 64 points"):
        MaskPolygon.of(ring)


def test_json_round_trip_and_errors_name_the_polygon() -> None:
    masks = MaskSet((RECT, MaskPolygon.of([(0, 0), (0.2, 0), (0, 0.2)])))
    assert MaskSet.loads(masks.dumps()) == masks
    with pytest.raises(MaskError, match=r"preset nord\[1\]: .*at least 3"):
        MaskSet.from_json([RECT.to_json(), [[0, 0], [1, 1]]], "preset nord")
    with pytest.raises(MaskError, match="not valid JSON"):
        MaskSet.loads("[[[0,0],")
    with pytest.raises(MaskError, match="list of polygons"):
        MaskSet.from_json({"a": 1})


# ------------------------------------------------------------------ rasterisation


def test_rectangle_covers_its_area_and_a_one_pixel_margin_only() -> None:
    m = mask_pixels(MaskSet((RECT,)), 100, 100)
    assert m[25:75, 25:75].all()
    # conservative: at most one pixel beyond the outline
    assert not m[:23, :].any() and not m[78:, :].any()
    assert not m[:, :23].any() and not m[:, 78:].any()


def test_whole_picture_polygon_masks_every_pixel() -> None:
    whole = MaskSet((MaskPolygon.rectangle(0, 0, 1, 1),))
    for w, h in ((1, 1), (3, 2), (320, 180), (641, 359)):
        assert mask_pixels(whole, w, h).all()


def test_sub_pixel_polygon_still_masks_a_pixel() -> None:
    tiny = MaskSet((MaskPolygon.rectangle(0.5, 0.5, 0.504, 0.504),))
    m = mask_pixels(tiny, 32, 18)  # the polygon is a tenth of a pixel
    assert m.any()
    ys, xs = np.nonzero(m)
    assert abs(xs.mean() - 16) <= 1.5 and abs(ys.mean() - 9) <= 1.5


def test_thin_sliver_along_the_edge_is_masked() -> None:
    sliver = MaskSet((MaskPolygon.rectangle(0.99, 0, 1, 1),))
    m = mask_pixels(sliver, 320, 180)
    assert m[:, -1].all()


def test_partially_covered_pixels_are_masked() -> None:
    # a triangle whose hypotenuse crosses pixels diagonally: every pixel whose square it
    # touches must be masked, checked against an exact supersampled coverage
    tri = MaskSet((MaskPolygon.of([(0.1, 0.1), (0.9, 0.13), (0.2, 0.85)]),))
    w, h, k = 40, 30, 8
    m = mask_pixels(tri, w, h)
    ys, xs = np.mgrid[0 : h * k, 0 : w * k]
    px, py = (xs + 0.5) / (w * k), (ys + 0.5) / (h * k)
    (ax, ay), (bx, by), (cx, cy) = tri.polygons[0].points

    def side(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)

    s1, s2, s3 = side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)
    inside = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
    touched = inside.reshape(h, k, w, k).any(axis=(1, 3))
    assert (m | ~touched).all(), "a touched pixel was left unmasked"


def test_concave_polygon_keeps_its_notch_visible() -> None:
    # a U shape: the notch in the middle is not masked
    u = MaskPolygon.of([(0, 0), (0.3, 0), (0.3, 0.6), (0.7, 0.6), (0.7, 0), (1, 0),
                        (1, 1), (0, 1)])  # fmt: skip
    m = mask_pixels(MaskSet((u,)), 100, 100)
    assert not m[5:55, 35:65].any()
    assert m[70:, :].all()


def test_overlapping_polygons_are_a_union() -> None:
    a = MaskPolygon.rectangle(0.1, 0.1, 0.6, 0.6)
    b = MaskPolygon.rectangle(0.4, 0.4, 0.9, 0.9)
    m = mask_pixels(MaskSet((a, b)), 100, 100)
    assert m[45:55, 45:55].all()  # the overlap stays masked (no even-odd hole)
    assert m[15, 15] and m[85, 85]


# ------------------------------------------------------------------ apply_masks


def test_show_with_masks_blacks_out_only_the_masks() -> None:
    frame = _frame(64, 36)
    out = apply_masks(frame, Show(MaskSet((RECT,))))
    m = mask_pixels(MaskSet((RECT,)), 64, 36)
    assert (out[m] == 0).all()
    assert (out[~m] == 200).all()


def test_show_without_masks_leaves_the_frame() -> None:
    frame = _frame(8, 6)
    assert (apply_masks(frame, Show(NO_MASKS)) == 200).all()


@pytest.mark.parametrize("decision", [Blank(BlankReason.MOVING), BLANK_UNKNOWN, None])
def test_blank_and_missing_decisions_blank_everything(decision: Blank | None) -> None:
    out = apply_masks(_frame(17, 9), decision)
    assert out.shape == (9, 17, 3)
    assert not out.any()
    assert blank_reason(decision) in set(BlankReason)


def test_read_only_frames_are_copied_not_refused() -> None:
    frame = _frame(10, 10)
    frame.flags.writeable = False
    out = apply_masks(frame, Blank(BlankReason.OFF_PRESET))
    assert not out.any() and (frame == 200).all()


def test_bad_frame_shape_is_an_error() -> None:
    with pytest.raises(ValueError):
        apply_masks(np.zeros((4, 4), np.uint8), Show())


def test_reasons_have_english_msgids_and_italian_labels() -> None:
    assert [r.label for r in BlankReason] == [
        "moving", "off preset", "position unknown", "privacy masks not loaded"
    ]
    set_language("it")
    try:
        labels = [r.label for r in BlankReason]
        assert all(isinstance(x, str) and x for x in labels)
    finally:
        set_language("en")


# ------------------------------------------------------------------ gates


def test_gates_default_and_registration() -> None:
    gates = MaskGates()
    assert gates.decision("unknown-cam") == Blank(BlankReason.NOT_CONFIGURED)  # fail closed
    cams = [
        CameraConfig(id="dome", name="Dome", place="P", kind="ptz", main_url="rtsp://x/1"),
        CameraConfig(id="fisso", name="Fisso", place="P", main_url="rtsp://x/2"),
        CameraConfig(id="nudo", name="Nudo", place="P", main_url="rtsp://x/3"),
    ]
    masks = MaskSet((RECT,))
    register_cameras(cams, {"fisso": masks}, gates=gates)
    assert gates.decision("dome") == BLANK_UNKNOWN  # PTZ: blank until a state is known
    assert gates.decision("fisso") == Show(masks)
    assert gates.decision("nudo") == Show(NO_MASKS)
    # again (the hub and the PTZ service both register): the PTZ gate object is kept
    dome = gates.get("dome")
    assert dome is not None
    dome.set(Show(masks))  # as its state machine would
    register_cameras(cams, {}, gates=gates)
    assert gates.get("dome") is dome and gates.decision("dome") == Show(masks)
    assert gates.decision("fisso") == Show(NO_MASKS)  # fixed: the masks given now
    gates.unregister("dome")
    assert gates.get("dome") is None


def test_gate_without_a_decision_is_blank_and_is_thread_safe() -> None:
    gate = MaskGate("c")
    assert gate.decision() == BLANK_UNKNOWN
    seen: set[object] = set()

    def flip() -> None:
        for i in range(2000):
            gate.set(Show() if i % 2 else Blank(BlankReason.MOVING))

    t = threading.Thread(target=flip)
    t.start()
    while t.is_alive():
        seen.add(gate.decision())
    t.join()
    assert seen <= {Show(), Blank(BlankReason.MOVING)}


def test_raster_cache_is_bounded_in_bytes_and_rasters_are_read_only() -> None:
    from cameras.masks import _RasterCache

    cache = _RasterCache(max_bytes=4 * 100 * 100)  # room for one 100x100 raster (3 + 1 B/px)
    a = MaskSet((RECT,))
    b = MaskSet((MaskPolygon.rectangle(0, 0, 0.5, 0.5),))
    ra = cache.get(a, 100, 100)
    assert cache.get(a, 100, 100) is ra  # cached
    cache.get(b, 100, 100)
    assert cache.get(a, 100, 100) is not ra  # evicted by b, rasterised again
    assert not ra.keep.flags.writeable and not ra.mask.flags.writeable
