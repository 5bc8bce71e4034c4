"""Oscuratore: boxes over the paused picture of an export's span (R21, R22; issue 6).

Opened by the export screen (:mod:`screens.export`), which checks the ``redact`` permission
first (audited) and gets back the :class:`~footage.redaction.RedactionPlan` the operator
confirmed; the export checks the plan again (the domain is the gate). The picture is the
span's own frames with the privacy masks in force (:mod:`screens.widgets.span_frames`),
so boxes are placed on what the recipient would see.

Keys only: ``n`` new box, Tab / shift+Tab the next / previous box, arrows move it
(shift: five times faster), ``+`` ``-`` grow / shrink it, ctrl+arrows change its width and
height; ``b`` blur, ``s`` solid, ``k`` keep (the data subject: only what keep boxes cover is
shown); ``[`` ``]`` the box starts / ends at the frame shown; ``.`` ``,`` one frame, ``>``
``<`` one second; ``d`` the detectors (people, faces) on this frame: their proposals are
accepted with Enter or rejected with Delete one by one; ``p`` a preview drawn by the same
:func:`~footage.redaction.apply_redactions` the export uses; Enter (no proposal selected) or
ctrl+s confirms the plan. Unreviewed proposals block the confirmation: a detector never
decides alone what is hidden, and nothing is dropped silently either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import numpy as np
from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from footage.redaction import (
    Detector,
    RedactionBox,
    RedactionError,
    RedactionKind,
    RedactionPlan,
    apply_redactions,
)
from registry.i18n import _, ngettext
from screens.bindings import N_, translate_bindings
from screens.widgets.footer import KeyFooter
from screens.widgets.redaction_canvas import DrawnBox, RedactionCanvas
from screens.widgets.span_frames import SpanFrame, SpanFrames

__all__ = ["EditBox", "RedactionScreen"]

#: a move, as a fraction of the picture (shift: five times this)
STEP = 0.01
#: a new box's side
NEW_SIDE = 0.2
STAMP = "%d/%m/%Y %H:%M:%S"
KIND_TITLES = {RedactionKind.BLUR: N_("blur"), RedactionKind.SOLID: N_("solid"),
               RedactionKind.KEEP: N_("keep (subject)")}  # fmt: skip


@dataclass(frozen=True)
class EditBox:
    """A box being edited: a plan's box, or a detector's proposal not yet reviewed."""

    x0: float
    y0: float
    x1: float
    y1: float
    kind: RedactionKind
    start: datetime
    end: datetime
    label: str = ""
    proposal: bool = False

    @classmethod
    def of(cls, box: RedactionBox, *, proposal: bool = False) -> EditBox:
        return cls(box.x0, box.y0, box.x1, box.y1, box.kind, box.start, box.end, box.label,
                   proposal)  # fmt: skip

    def box(self) -> RedactionBox:
        return RedactionBox(self.x0, self.y0, self.x1, self.y1, self.kind, self.start,
                            self.end, self.label)  # fmt: skip

    def moved(self, dx: float, dy: float) -> EditBox:
        dx = min(max(dx, -self.x0), 1.0 - self.x1)
        dy = min(max(dy, -self.y0), 1.0 - self.y1)
        return replace(self, x0=self.x0 + dx, x1=self.x1 + dx, y0=self.y0 + dy, y1=self.y1 + dy)

    def resized(self, dw: float, dh: float) -> EditBox:
        """Wider/taller by *dw*/*dh* about its centre, within the picture, never empty."""
        cx, cy = (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2
        w = min(1.0, max(0.02, self.x1 - self.x0 + dw))
        h = min(1.0, max(0.02, self.y1 - self.y0 + dh))
        x0 = min(max(0.0, cx - w / 2), 1.0 - w)
        y0 = min(max(0.0, cy - h / 2), 1.0 - h)
        return replace(self, x0=x0, y0=y0, x1=x0 + w, y1=y0 + h)


class RedactionScreen(Screen[RedactionPlan | None]):
    """See the module docstring. Dismisses with the confirmed plan, or None (Esc)."""

    CSS_PATH = "export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", N_("New box"), id="redaction.new"),
        Binding("tab", "select(1)", N_("Next box"), id="redaction.next", priority=True),
        Binding("shift+tab", "select(-1)", N_("Previous box"), id="redaction.prev",
                show=False, priority=True),
        Binding("up", "move(0,-1)", N_("Move"), id="redaction.up", key_display="↑↓←→"),
        Binding("down", "move(0,1)", show=False),
        Binding("left", "move(-1,0)", show=False),
        Binding("right", "move(1,0)", show=False),
        Binding("shift+up", "move(0,-5)", show=False),
        Binding("shift+down", "move(0,5)", show=False),
        Binding("shift+left", "move(-5,0)", show=False),
        Binding("shift+right", "move(5,0)", show=False),
        Binding("plus,equals_sign", "resize(2,2)", N_("Larger"), id="redaction.grow",
                key_display="+"),
        Binding("minus", "resize(-2,-2)", N_("Smaller"), id="redaction.shrink",
                key_display="-"),
        Binding("ctrl+right", "resize(2,0)", show=False),
        Binding("ctrl+left", "resize(-2,0)", show=False),
        Binding("ctrl+down", "resize(0,2)", show=False),
        Binding("ctrl+up", "resize(0,-2)", show=False),
        Binding("b", "kind('blur')", N_("Blur"), id="redaction.blur"),
        Binding("s", "kind('solid')", N_("Solid"), id="redaction.solid"),
        Binding("k", "kind('keep')", N_("Keep"), id="redaction.keep"),
        Binding("left_square_bracket", "range('start')", N_("Starts here"),
                id="redaction.start", key_display="["),
        Binding("right_square_bracket", "range('end')", N_("Ends here"),
                id="redaction.end", key_display="]"),
        Binding("full_stop", "step(1)", N_("Frame"), id="redaction.step", key_display=".,"),
        Binding("comma", "step(-1)", show=False),
        Binding("greater_than_sign", "seek(1)", N_("±1 s"), id="redaction.seek",
                key_display="<>"),
        Binding("less_than_sign", "seek(-1)", show=False),
        Binding("d", "detect", N_("Detect"), id="redaction.detect"),
        Binding("enter", "accept", N_("Accept/confirm"), id="redaction.accept",
                key_display="↵"),
        Binding("delete,backspace", "drop", N_("Reject/delete"), id="redaction.drop",
                key_display="Del"),
        Binding("p", "preview", N_("Preview"), id="redaction.preview"),
        Binding("ctrl+s", "confirm", N_("Confirm"), id="redaction.confirm", priority=True),
        Binding("escape", "back", N_("Back"), id="redaction.back"),
    ]

    def __init__(self, frames: SpanFrames, *, camera_id: str, title: str, zone: ZoneInfo,
                 plan: RedactionPlan | None = None, subject: bool = False,
                 detector: Detector | None = None) -> None:  # fmt: skip
        super().__init__(classes="export-screen")
        translate_bindings(self)
        self.frames = frames
        self.camera_id = camera_id
        self.title_text = title
        self.zone = zone
        #: a data-subject copy: new boxes mark the subject
        self.subject = subject
        self.detector = detector or Detector()
        self.boxes: list[EditBox] = [EditBox.of(b) for b in (plan.boxes if plan else ())]
        self.selected: int | None = 0 if self.boxes else None
        self.preview = False
        self.busy = False
        self.frame: SpanFrame | None = None
        #: the picture last handed to the canvas (full resolution), for the tests
        self.shown: np.ndarray | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Redaction[/b] · {title}").format(title=escape(self.title_text)),
                         classes="banner")
        with Horizontal(id="redaction-body"):
            yield RedactionCanvas(self.camera_id, id="redaction-picture")
            with Vertical(id="redaction-side"):
                yield Static("", id="redaction-boxes")
        yield Static("", id="redaction-status")
        yield Static("", id="redaction-message")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.message(_("Loading the picture…"), error=False)
        self._load(None, 0)

    def on_unmount(self) -> None:
        self.frames.close()

    # -- frames ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="redaction-frames")
    def _load(self, seek: datetime | None, step: int) -> None:
        try:
            if seek is not None:
                frame = self.frames.seek(seek)
            elif step:
                frame = self.frames.step(step)
            else:
                frame = self.frames.seek(self.frames.start)
        except Exception as e:  # noqa: BLE001 - a damaged segment is said, not raised
            self.app.call_from_thread(self.message, _("The picture cannot be read: {error}")
                                      .format(error=e))  # fmt: skip
            return
        self.app.call_from_thread(self._loaded, frame)

    def _loaded(self, frame: SpanFrame | None) -> None:
        if frame is None:
            self.message(_("No recorded picture in this span."))
            return
        self.frame = frame
        self.message("")
        self.redraw()

    def action_step(self, frames: int) -> None:
        self._load(None, frames)

    def action_seek(self, seconds: int) -> None:
        at = self.frame.at if self.frame else self.frames.start
        self._load(at + timedelta(seconds=seconds), 0)

    # -- drawing ---------------------------------------------------------------------------

    def plan(self) -> RedactionPlan:
        """The reviewed boxes (not the pending proposals); RedactionError if one is bad."""
        return RedactionPlan(tuple(b.box() for b in self.boxes if not b.proposal))

    def preview_picture(self) -> np.ndarray | None:
        """The frame shown, with the reviewed boxes applied as the export applies them."""
        if self.frame is None:
            return None
        return apply_redactions(self.frame.rgb.copy(), self.plan(), self.frame.at)

    def redraw(self) -> None:
        canvas = self.query_one("#redaction-picture", RedactionCanvas)
        at = self.frame.at if self.frame else None
        drawn: list[DrawnBox] = []
        if self.frame is not None and self.preview:
            try:
                self.shown = self.preview_picture()
            except RedactionError as e:
                self.preview = False
                self.message(e.message)
        if self.frame is not None and not self.preview:
            self.shown = self.frame.rgb
            for i, b in enumerate(self.boxes):
                colour = ("proposal" if b.proposal else str(b.kind)) if (
                    at is not None and b.start <= at < b.end) else "inactive"
                drawn.append(DrawnBox((b.x0, b.y0, b.x1, b.y1), colour, i == self.selected))
        canvas.show(self.shown)
        canvas.draw_boxes(drawn)
        self._status()

    def _stamp(self, at: datetime) -> str:
        local = at.astimezone(self.zone)
        return f"{local:{STAMP}}.{local.microsecond // 100000}"

    def _status(self) -> None:
        at = self.frame.at if self.frame else None
        pending = sum(b.proposal for b in self.boxes)
        parts = [_("frame {at}").format(at=self._stamp(at)) if at else "—",
                 ngettext("{n} box", "{n} boxes", len(self.boxes) - pending).format(
                     n=len(self.boxes) - pending)]
        if pending:
            parts.append(ngettext("{n} proposal to review", "{n} proposals to review",
                                  pending).format(n=pending))
        if self.preview:
            parts.append(_("PREVIEW"))
        if self.subject:
            parts.append(_("data subject: only the keep boxes are shown"))
        self.query_one("#redaction-status", Static).update(escape(" · ".join(parts)))
        lines = []
        for i, b in enumerate(self.boxes):
            mark = "▶" if i == self.selected else " "
            what = _("proposal") if b.proposal else _(KIND_TITLES[b.kind])
            label = f" {b.label}" if b.label else ""
            lines.append(f"{mark}{i + 1:>2} {escape(what)}{escape(label)}\n"
                         f"    {b.start.astimezone(self.zone):%H:%M:%S}–"
                         f"{b.end.astimezone(self.zone):%H:%M:%S}")  # fmt: skip
        self.query_one("#redaction-boxes", Static).update(
            "\n".join(lines) or _("No boxes yet: N adds one, D asks the detectors."))

    def message(self, text: str, *, error: bool = True) -> None:
        widget = self.query_one("#redaction-message", Static)
        widget.update(escape(text))
        widget.set_class(error and bool(text), "error")

    # -- editing ---------------------------------------------------------------------------

    def _edit(self, change: EditBox) -> None:
        assert self.selected is not None
        self.boxes[self.selected] = change
        self.redraw()

    def _current(self) -> EditBox | None:
        if self.selected is None or not self.boxes:
            return None
        return self.boxes[self.selected]

    def action_new(self) -> None:
        lo, hi = self.frames.start, self.frames.end
        half = NEW_SIDE / 2
        kind = RedactionKind.KEEP if self.subject else RedactionKind.BLUR
        self.boxes.append(EditBox(0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half, kind, lo, hi))
        self.selected = len(self.boxes) - 1
        self.preview = False
        self.redraw()

    def action_select(self, direction: int) -> None:
        if self.boxes:
            self.selected = ((self.selected or 0) + direction) % len(self.boxes)
            self.redraw()

    def action_move(self, dx: int, dy: int) -> None:
        box = self._current()
        if box is not None:
            self._edit(box.moved(dx * STEP, dy * STEP))

    def action_resize(self, dw: int, dh: int) -> None:
        box = self._current()
        if box is not None:
            self._edit(box.resized(dw * STEP, dh * STEP))

    def action_kind(self, kind: str) -> None:
        box = self._current()
        if box is not None:
            self._edit(replace(box, kind=RedactionKind(kind)))

    def action_range(self, which: str) -> None:
        box, frame = self._current(), self.frame
        if box is None or frame is None:
            return
        if which == "start":
            if frame.at >= box.end:
                self.message(_("A box must start before it ends ({end}).").format(
                    end=self._stamp(box.end)))
                return
            self._edit(replace(box, start=frame.at))
        else:
            end = frame.at + frame.interval  # the frame shown is still covered
            if end <= box.start:
                self.message(_("A box must end after it starts ({start}).").format(
                    start=self._stamp(box.start)))
                return
            self._edit(replace(box, end=end))
        self.message("")

    def action_drop(self) -> None:
        if self._current() is None:
            return
        assert self.selected is not None
        del self.boxes[self.selected]
        self.selected = min(self.selected, len(self.boxes) - 1) if self.boxes else None
        self.redraw()

    def action_preview(self) -> None:
        self.preview = not self.preview
        self.redraw()

    # -- detectors -------------------------------------------------------------------------

    def action_detect(self) -> None:
        if self.frame is None or self.busy:
            return
        self.busy = True
        self.message(_("Looking for people and faces…"), error=False)
        self._detect(self.frame)

    @work(thread=True, exclusive=True, group="redaction-detect")
    def _detect(self, frame: SpanFrame) -> None:
        try:
            found = self.detector.propose([(frame.at, frame.rgb)], every=timedelta(seconds=1))
            boxes = [replace(b, start=max(b.start, self.frames.start),
                             end=min(b.end, self.frames.end)) for b in found]  # fmt: skip
        except Exception as e:  # noqa: BLE001 - said in the screen
            self.app.call_from_thread(self._detected, [], str(e))
            return
        self.app.call_from_thread(self._detected, boxes, "")

    def _detected(self, found: list[RedactionBox], error: str) -> None:
        self.busy = False
        if error:
            self.message(_("The detectors failed: {error}").format(error=error))
            return
        first = len(self.boxes)
        kind = RedactionKind.KEEP if self.subject else RedactionKind.BLUR
        self.boxes += [replace(EditBox.of(b, proposal=True), kind=kind) for b in found]
        if found:
            self.selected = first
        self.message(ngettext(
            "{n} proposal: Enter accepts the selected one, Delete rejects it.",
            "{n} proposals: Enter accepts the selected one, Delete rejects it.",
            len(found)).format(n=len(found)) if found else _(
            "The detectors found nobody in this frame (they miss small or turned faces: "
            "look yourself)."), error=False)  # fmt: skip
        self.redraw()

    # -- confirming ------------------------------------------------------------------------

    def action_accept(self) -> None:
        box = self._current()
        if box is not None and box.proposal:
            self._edit(replace(box, proposal=False))
            nxt = next((i for i, b in enumerate(self.boxes) if b.proposal), None)
            if nxt is not None:
                self.selected = nxt
                self.redraw()
            return
        self.action_confirm()

    def action_confirm(self) -> None:
        pending = sum(b.proposal for b in self.boxes)
        if pending:
            self.message(ngettext(
                "{n} proposal is not reviewed: accept it (Enter) or reject it (Delete).",
                "{n} proposals are not reviewed: accept (Enter) or reject (Delete) each.",
                pending).format(n=pending))  # fmt: skip
            return
        try:
            plan = self.plan()
        except RedactionError as e:
            self.message(e.message)
            return
        self.dismiss(plan)

    def action_back(self) -> None:
        self.dismiss(None)
