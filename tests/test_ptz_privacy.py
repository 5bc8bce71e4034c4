"""Privacy, end to end: no pixel of a masked window ever leaves cameras/, in any state.

The ipycam peer plays a grey street with a magenta window (``make_window_video``). Frames are
read through the path the UI uses (StreamHub -> StreamReader, the gate found by camera id)
while the camera is driven through presets, pulse moves, zooms and off-preset views by the
real PTZ control, with the real state machine polling the real camera. Every delivered frame
is checked: no window colour at all, and blank frames fully black.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from peers import WINDOW_RECT, GstRtspPeer, IpycamPeer, wait_until
from test_ptz_support import audit_trail, camera_for, control_for, open_store, operator, supervisor

from cameras.config import CameraConfig, StreamSettings
from cameras.hub import StreamHub
from cameras.masks import (
    GATES,
    NO_MASKS,
    BlankReason,
    MaskGate,
    MaskPolygon,
    MaskSet,
    mask_pixels,
    register_cameras,
)
from cameras.stream import StreamReader, StreamSource, VideoFrame
from ptz.control import Direction, PtzPosition
from ptz.maskstate import SETTLE_S, MaskStateKind, MaskStateMachine, MaskStateWatcher, record_to
from ptz.presets import PresetBook
from registry.store import Store
from registry.store_ptz import PtzStore

pytestmark = pytest.mark.peers

TILE = (320, 180)
#: a zoomed view (digital crop) in which the window is large: x 0.45-0.85, y 0.12-0.52
WINDOW_VIEW = PtzPosition(0.5, 0.6, 0.5)
#: a zoomed view of the public square, without the window
SQUARE_VIEW = PtzPosition(-0.8, -0.8, 0.6)


def window_pixels(rgb: np.ndarray) -> int:
    """Pixels with the window's colour, or a blend with any of it (magenta-ish)."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return int(np.count_nonzero((r > 140) & (b > 140) & (g < 110) & (r - g > 60)))


@dataclass
class Tally:
    """What the UI received, checked frame by frame in the reader thread."""

    frames: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    leaks: list[tuple[int, str, int]] = field(default_factory=list)
    dirty_blanks: int = 0
    black_shown: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: str = ""

    def check(self, frame: VideoFrame) -> None:
        with self.lock:
            self.frames += 1
            reason = str(frame.blank) if frame.blank is not None else "shown"
            self.by_reason[reason] += 1
            n = window_pixels(frame.rgb)
            if n:
                self.leaks.append((frame.seq, self.state, n))
            if frame.blank is not None and frame.rgb.any():
                self.dirty_blanks += 1
            if frame.blank is None and not frame.rgb.any():
                self.black_shown += 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


async def test_the_window_detector_sees_the_unmasked_window(ipycam_window: IpycamPeer,
                                                            store: Store) -> None:
    """Without masks the window is there: the privacy test below could fail."""
    ctl = control_for(ipycam_window, audit_trail(store))
    try:
        await ctl.home(supervisor())  # the whole picture (other tests zoom in)
    finally:
        await ctl.close()
    reader = StreamReader(StreamSource("raw", ipycam_window.sub_url),
                          gate=MaskGate.fixed("raw", NO_MASKS))  # fmt: skip
    reader.set_target_size(*TILE)
    reader.start()
    try:
        assert await asyncio.to_thread(wait_until, lambda: reader.latest() is not None, 10)
        await asyncio.sleep(1.0)  # frames from before the GotoHome have passed
        frame = reader.latest()
        assert frame is not None and frame.blank is None
        x0, y0, x1, y1 = WINDOW_RECT
        expected = (x1 - x0) * TILE[0] * (y1 - y0) * TILE[1]
        assert window_pixels(frame.rgb) > 0.8 * expected
    finally:
        reader.stop()


async def test_masked_window_never_reaches_a_consumer_in_any_state(
    ipycam_window: IpycamPeer, store: Store
) -> None:
    audit = audit_trail(store)
    ptz = PtzStore(store)
    book = PresetBook(ptz, audit)
    cam = camera_for(ipycam_window, "privacy-dome")
    boss, op = supervisor(), operator()
    ctl = control_for(ipycam_window, audit, camera=cam, pulse_s=0.3)

    # The responsabile defines three presets; the window is masked where it can be seen.
    await ctl.home(boss)
    piazza = await book.define(boss, ctl, "piazza", approve=True)
    x0, y0, x1, y1 = WINDOW_RECT
    book.set_masks(boss, piazza.id, MaskSet((MaskPolygon.rectangle(x0 - 0.02, y0 - 0.02,
                                                                   x1 + 0.02, y1 + 0.02),)))
    await ctl.move_to(boss, WINDOW_VIEW)
    await asyncio.sleep(0.3)
    finestra = await book.define(boss, ctl, "facciata", approve=True)
    # in this crop the window spans x 0.43-0.87, y 0.15-0.70: a concave-free polygon over it
    book.set_masks(boss, finestra.id, MaskSet((MaskPolygon.of(
        [(0.38, 0.10), (0.92, 0.10), (0.92, 0.76), (0.38, 0.76)]),)))
    await ctl.move_to(boss, SQUARE_VIEW)
    await asyncio.sleep(0.3)
    square = await book.define(boss, ctl, "giardini", approve=True)
    await ctl.home(boss)

    # Wiring as the console does it: a gate per camera, a state machine, a watcher.
    gates = register_cameras([cam])
    gate = gates[cam.id]
    assert GATES.get(cam.id) is gate
    machine = MaskStateMachine(cam.id, gate, book.approved(cam.id), settle_s=SETTLE_S,
                               recorder=record_to(ptz, cam.id))  # fmt: skip
    ctl.listener = machine
    watcher = MaskStateWatcher(machine, lambda: control_for(ipycam_window, audit, camera=cam),
                               poll_s=0.1, error_poll_s=0.3)  # fmt: skip
    hub = StreamHub([cam], StreamSettings(), password_for=lambda _id: ipycam_window.password)
    tally = Tally()
    holder: dict[str, StreamReader] = {}

    def on_frame() -> None:  # in the reader thread, right after each frame is published
        reader = holder.get("reader")
        frame = reader.latest() if reader is not None else None
        if frame is not None:
            tally.check(frame)

    handle = hub.acquire(cam.id, "sub", on_frame=on_frame)
    holder["reader"] = handle.reader
    handle.reader.set_target_size(*TILE)
    watcher.start()

    async def until(kind: MaskStateKind, preset: str | None = None, timeout: float = 8) -> None:
        def ok() -> bool:
            s = machine.state
            return s.kind is kind and (preset is None or s.preset_name == preset)

        assert await asyncio.to_thread(wait_until, ok, timeout), (kind, preset, machine.state)
        tally.state = f"{kind}:{preset}"

    watch = asyncio.sleep  # frames keep being checked meanwhile

    try:
        assert await asyncio.to_thread(wait_until, lambda: tally.frames > 0, 15)
        await until(MaskStateKind.AT_PRESET, "piazza")
        await watch(1.5)
        # operator's pulse moves and a held key: blank while moving, back to the preset view
        for d in (Direction.RIGHT, Direction.UP, Direction.UP, Direction.LEFT):
            await ctl.move(op, d)
            await asyncio.sleep(0.1)
        await until(MaskStateKind.OFF_PRESET)
        await watch(1.0)
        await ctl.goto_preset(op, piazza.token, piazza.position, label="piazza")
        await until(MaskStateKind.AT_PRESET, "piazza")
        await watch(1.0)
        # straight to the zoomed preset on the façade: the window is huge there, and masked
        await ctl.goto_preset(op, finestra.token, finestra.position, label="facciata")
        await until(MaskStateKind.AT_PRESET, "facciata")
        await watch(1.5)
        # zoom out from the façade by hand: moving, then off preset with the window in view
        for _ in range(3):
            await ctl.move(op, Direction.ZOOM_OUT)
            await asyncio.sleep(0.1)
        await until(MaskStateKind.OFF_PRESET)
        await watch(1.5)
        # the supervisor frames the window exactly, off preset
        await ctl.move_to(boss, PtzPosition(0.55, 0.55, 0.6))
        await until(MaskStateKind.OFF_PRESET)
        await watch(1.0)
        # preset to preset: façade -> square -> piazza with no pause in between
        await ctl.goto_preset(op, finestra.token, finestra.position, label="facciata")
        await ctl.goto_preset(op, square.token, square.position, label="giardini")
        await until(MaskStateKind.AT_PRESET, "giardini")
        await watch(1.0)
        await ctl.goto_preset(op, piazza.token, piazza.position, label="piazza")
        await until(MaskStateKind.AT_PRESET, "piazza")
        await watch(1.0)
    finally:
        watcher.stop()
        hub.release(handle, on_frame)
        hub.close()
        GATES.unregister(cam.id)
        await ctl.home(boss)
        await ctl.close()

    with tally.lock:
        summary = dict(tally.by_reason)
        assert tally.leaks == [], f"window pixels reached the consumer: {tally.leaks[:5]}"
        assert tally.dirty_blanks == 0, "a blank frame carried picture"
        assert tally.black_shown == 0, "a shown frame was all black"
    # every kind of frame really happened
    assert summary.get("shown", 0) >= 30, summary
    assert summary.get(str(BlankReason.MOVING), 0) >= 3, summary
    assert summary.get(str(BlankReason.OFF_PRESET), 0) >= 10, summary
    states = {r.state for r in ptz.mask_states(cam.id)}
    assert states == {"unknown", "moving", "off_preset", "at_preset"}


def test_fixed_camera_masks_from_the_database_on_gst_rtsp(gst_rtsp: GstRtspPeer,
                                                          store: Store) -> None:
    audit = audit_trail(store)
    book = PresetBook(PtzStore(store), audit)
    cam = CameraConfig(id="fissa-gst", name="Fissa", place="Via Roma", main_url=gst_rtsp.file_url)
    masks = MaskSet((MaskPolygon.rectangle(0.0, 0.0, 0.5, 1.0),
                     MaskPolygon.of([(0.6, 0.1), (0.9, 0.1), (0.75, 0.5)])))
    book.set_fixed_masks(supervisor(), cam.id, masks)
    register_cameras([cam], book.all_fixed_masks())
    # the hub registers gates too: it must be given the stored masks (None would mean "none")
    hub = StreamHub([cam], StreamSettings(), fixed_masks=book.all_fixed_masks())
    raw = StreamReader(StreamSource("raw-gst", gst_rtsp.file_url),
                       gate=MaskGate.fixed("raw-gst"))  # fmt: skip
    raw.set_target_size(*TILE)
    handle = hub.acquire(cam.id, "main")
    handle.reader.set_target_size(*TILE)
    raw.start()
    seen: list[VideoFrame] = []
    try:
        def enough() -> bool:
            frame = handle.reader.latest()
            if (frame is not None and frame.rgb.shape[:2] == (TILE[1], TILE[0])
                    and (not seen or seen[-1].seq != frame.seq)):
                seen.append(frame)
            return len(seen) >= 10 and raw.latest() is not None

        assert wait_until(enough, 15)
    finally:
        hub.release(handle)
        hub.close()
        raw.stop()
        GATES.unregister(cam.id)
    hidden = mask_pixels(masks, *TILE)
    for frame in seen:
        assert frame.blank is None
        assert not frame.rgb[hidden].any(), "masked pixels carried picture"
        assert frame.rgb[~hidden].any()
    raw_frame = raw.latest()
    assert raw_frame is not None and raw_frame.rgb[hidden].any()  # there was something to hide
    entry = [e for e in audit.entries() if e.action == "masks.changed"][-1]
    assert entry.actor == "rossi" and entry.target == cam.id
