"""The redaction tool ("oscuratore") driven by Pilot, over real recorded footage.

The frames come from segments recorded by the recorder's own writer (``record_file``):
``car-detection.mp4`` for the box editing and the preview, and the first seconds of OpenCV's
pedestrian clip ``vtest.avi`` (re-encoded to H.264 first: the recorder keeps MP4-ready
codecs) for the detectors' proposals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from peers import VIDEO_DIR
from test_export_ui import (
    EWorld,
    ExportApp,
    make_eworld,
    opener,
    settle,
    sign_form,
    span,
    text,
)
from textual.app import App
from textual.widgets import Select, Static

from footage.export import ExportRequest
from footage.redaction import RecipientKind, RedactionKind, RedactionPlan, apply_redactions
from screens.export import ExportContext, ExportScreen
from screens.redaction import RedactionScreen
from screens.register_form import RegisterFormScreen
from screens.widgets.span_frames import SpanFrames

SIZE = (120, 40)


@pytest.fixture
def ew(tmp_path: Path) -> Iterator[EWorld]:
    e = make_eworld(tmp_path / "data")
    yield e
    e.w.store.close()


def pedestrians(out: Path, seconds: float = 3.0) -> Path:
    """The first *seconds* of vtest.avi as H.264 in MP4 (keyframe every second)."""
    src = av.open(str(VIDEO_DIR / "vtest.avi"))
    dst = av.open(str(out), "w")
    try:
        stream = dst.add_stream("libx264", rate=10, options={"preset": "ultrafast",
                                                             "g": "10", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i >= seconds * 10:
                break
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"),
                                                 format="rgb24")
            picture.pts = i
            for packet in stream.encode(picture.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    finally:
        dst.close()
        src.close()
    return out


def detail(region: np.ndarray) -> float:
    """Mean difference between neighbouring pixels: what a blur takes away."""
    r = region.astype(np.int16)
    return float(np.abs(np.diff(r, axis=0)).mean() + np.abs(np.diff(r, axis=1)).mean())


class ToolApp(App[None]):
    """Pushes the redaction tool for one span and keeps what it returns."""

    def __init__(self, ctx: ExportContext, request: ExportRequest, subject: bool = False
                 ) -> None:  # fmt: skip
        super().__init__()
        self.ctx = ctx
        self.request = request
        self.subject = subject
        self.result: list[RedactionPlan | None] = []

    def on_mount(self) -> None:
        plan = self.ctx.exporter.check(self.request)
        frames = SpanFrames(plan.segments, self.ctx.exporter.index.path_of,
                            self.request.start, self.request.end, plan.timeline.at)
        self.push_screen(RedactionScreen(frames, camera_id=self.request.camera, title="t",
                                         zone=self.ctx.zone, subject=self.subject),
                         self.result.append)  # fmt: skip


def tool(app: App[Any]) -> RedactionScreen:
    screen = app.screen
    assert isinstance(screen, RedactionScreen)
    return screen


async def test_a_box_drawn_by_keys_with_its_range_and_preview(ew: EWorld) -> None:
    start, end = span(2, 8)
    request = ExportRequest(ew.camera, start, end, RecipientKind.THIRD_PARTY)
    app = ToolApp(ew.as_("gneri"), request)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = tool(app)
        assert screen.frame is not None and screen.frame.at >= start
        first = screen.frame.at
        assert "23/11/2026 09:00:02" in text(app, "#redaction-status")
        await pilot.press("n")  # a blur box in the middle, over the whole span
        for _ in range(10):
            await pilot.press("right")
        await pilot.press("shift+down", "plus")
        box = screen.boxes[0]
        assert box.kind is RedactionKind.BLUR and (box.start, box.end) == (start, end)
        assert box.x0 == pytest.approx(0.49) and box.x1 == pytest.approx(0.71)
        assert box.y0 == pytest.approx(0.44) and box.y1 == pytest.approx(0.66)
        await pilot.press("full_stop", "full_stop", "full_stop")
        await settle(pilot)
        third = screen.frame.at
        assert third > first
        await pilot.press("left_square_bracket")
        await pilot.press("full_stop", "full_stop")
        await settle(pilot)
        await pilot.press("right_square_bracket")
        box = screen.boxes[0]
        assert box.start == third and box.end == screen.frame.at + screen.frame.interval
        await pilot.press("comma")
        await settle(pilot)
        assert third < screen.frame.at < box.end  # one frame back, still inside the range
        raw = screen.frame.rgb
        await pilot.press("p")
        await settle(pilot)
        assert "PREVIEW" in text(app, "#redaction-status")
        shown = screen.shown
        assert shown is not None and shown.shape == raw.shape
        h, w = raw.shape[:2]
        x0, y0, x1, y1 = box.box().pixels(w, h)
        assert not np.array_equal(shown[y0:y1, x0:x1], raw[y0:y1, x0:x1])
        assert detail(shown[y0:y1, x0:x1]) < 0.5 * detail(raw[y0:y1, x0:x1])  # blurred
        outside = shown.copy()
        outside[y0:y1, x0:x1] = raw[y0:y1, x0:x1]
        assert np.array_equal(outside, raw)  # nothing else changed
        expected = apply_redactions(raw.copy(), screen.plan(), screen.frame.at)
        assert np.array_equal(shown, expected)  # the export's own function
        await pilot.press("s")
        await settle(pilot)
        assert (screen.shown[y0:y1, x0:x1] == 0).all()  # type: ignore[index]
        await pilot.press("ctrl+s")
        await settle(pilot)
    (plan,) = app.result
    assert plan is not None and len(plan.boxes) == 1
    assert plan.boxes[0].kind is RedactionKind.SOLID and plan.boxes[0].start == third


async def test_frames_outside_a_box_range_are_left_alone_in_the_preview(ew: EWorld) -> None:
    start, end = span(2, 8)
    app = ToolApp(ew.as_("gneri"), ExportRequest(ew.camera, start, end,
                                                 RecipientKind.THIRD_PARTY))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = tool(app)
        await pilot.press("n", "s", "greater_than_sign")  # one second on
        await settle(pilot)
        await pilot.press("left_square_bracket")  # the box starts here
        await pilot.press("less_than_sign")  # back before it
        await settle(pilot)
        assert screen.frame is not None and screen.frame.at < screen.boxes[0].start
        await pilot.press("p")
        await settle(pilot)
        assert np.array_equal(screen.shown, screen.frame.rgb)  # type: ignore[arg-type]


async def test_detector_proposals_on_pedestrians_are_reviewed_one_by_one(
    tmp_path: Path,
) -> None:
    ew = make_eworld(tmp_path / "data", pedestrians(tmp_path / "people.mp4"))
    try:
        start, end = span(0.5, 2.5)
        app = ToolApp(ew.as_("gneri"), ExportRequest(ew.camera, start, end,
                                                     RecipientKind.THIRD_PARTY))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = tool(app)
            await pilot.press("d")
            await settle(pilot)
            proposals = [b for b in screen.boxes if b.proposal]
            assert len(proposals) >= 2, text(app, "#redaction-message")
            assert {b.label for b in proposals} <= {"person", "face"}
            assert "person" in {b.label for b in proposals}
            assert "proposals to review" in text(app, "#redaction-status")
            await pilot.press("ctrl+s")  # refused while proposals wait
            await settle(pilot)
            assert app.screen is screen and "not reviewed" in text(app, "#redaction-message")
            await pilot.press("enter")  # accept the first
            await pilot.press("delete")  # reject the next one
            while any(b.proposal for b in screen.boxes):
                await pilot.press("enter")
            await pilot.press("enter")  # nothing left to review: confirms
            await settle(pilot)
        (plan,) = app.result
        assert plan is not None and len(plan.boxes) == len(proposals) - 1
        assert all(b.start >= start and b.end <= end for b in plan.boxes)
    finally:
        ew.w.store.close()


async def test_a_data_subject_copy_goes_through_the_tool_and_then_to_the_register(
    ew: EWorld,
) -> None:
    app = ExportApp(ew.as_("gneri"), opener(ew.camera, *span(1, 4)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        export = app.screen
        assert isinstance(export, ExportScreen)
        export.query_one("#recipient", Select).value = RecipientKind.DATA_SUBJECT
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Ctrl+O opens the redaction tool" in text(app, "#export-message")
        await pilot.press("ctrl+o")
        await settle(pilot)
        screen = tool(app)
        assert screen.subject
        await pilot.press("n")  # data subject: a keep box
        assert screen.boxes[0].kind is RedactionKind.KEEP
        await pilot.press("p")
        await settle(pilot)
        shown = screen.shown
        assert shown is not None
        h = shown.shape[0]
        assert (shown[: h // 4] == 0).all()  # outside the subject: black
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is export and export.redactions.subject_only
        assert "data subject only" in str(export.query_one("#export-redaction",
                                                           Static).render())
        assert "re-encode" in text(app, "#export-plan")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RegisterFormScreen)
        await sign_form(pilot, "gneri", "Mario Bianchi (interessato)")
        assert "Package password" in str(app.screen.query_one(".form-section",
                                                              Static).render())
