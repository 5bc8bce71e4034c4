"""The built-in demo: a small comune with six cameras, no configuration needed.

The clips are drawn by this module (OpenCV primitives) and encoded once with PyAV's H.264
encoder into the demo data directory; then each camera plays its main and sub clip in real
time, looping, through the same :class:`cameras.stream.StreamReader` path real cameras use.
Nothing is downloaded and no third-party footage ships with the project.

The scenes loop seamlessly: every moving thing is periodic in the clip length.

The demo cameras are recorded too (``record``), by :func:`start_demo_recorder`
(console.demo_record), so that playback, holds and export can be tried on real footage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np

from cameras.config import CameraConfig, CameraKind
from console.demo_record import DemoRecorder, start_demo_recorder

if TYPE_CHECKING:
    from console.config import CentraleConfig

#: bump when the drawings change, so that cached clips are made again
DEMO_VERSION = 3
CLIP_SECONDS = 12
MAIN_SIZE = (1280, 720)
SUB_SIZE = (640, 360)
MAIN_FPS = 25
SUB_FPS = 10

Drawer = Callable[[np.ndarray, float, float], None]  # (canvas BGR, t seconds, scale)


@dataclass(frozen=True)
class DemoCamera:
    id: str
    name: str
    place: str
    kind: CameraKind
    background: Callable[[int, int], np.ndarray]
    drawer: Drawer
    anonymous: bool = False


# -- drawing helpers (BGR, coordinates in a 1280x720 design space scaled by `s`) ----------


def _sky_ground(w: int, h: int, horizon: float, sky: tuple[int, int, int],
                ground: tuple[int, int, int]) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    hy = int(h * horizon)
    top = np.linspace(1.0, 0.75, max(1, hy))[:, None, None]
    img[:hy] = (np.array(sky)[None, None, :] * top).astype(np.uint8)
    img[hy:] = ground
    return img


def _p(x: float, y: float, s: float) -> tuple[int, int]:
    return int(x * s), int(y * s)


def _car(img: np.ndarray, x: float, y: float, s: float, colour: tuple[int, int, int],
         length: float = 150, flip: bool = False) -> None:
    h = length * 0.38
    cv2.rectangle(img, _p(x, y - h * 0.55, s), _p(x + length, y, s), colour, -1)
    roof_a, roof_b = (x + length * 0.22, x + length * 0.7) if not flip else (
        x + length * 0.3, x + length * 0.78)
    cv2.rectangle(img, _p(roof_a, y - h, s), _p(roof_b, y - h * 0.55, s), colour, -1)
    glass = (200, 170, 120)
    cv2.rectangle(img, _p(roof_a + 8, y - h + 6, s), _p(roof_b - 8, y - h * 0.55, s), glass, -1)
    for wx in (x + length * 0.2, x + length * 0.8):
        cv2.circle(img, _p(wx, y, s), max(2, int(h * 0.28 * s)), (25, 25, 25), -1)
    lamp = (60, 220, 255) if not flip else (40, 40, 220)
    cv2.circle(img, _p(x + length - 4, y - h * 0.35, s), max(1, int(5 * s)), lamp, -1)


def _person(img: np.ndarray, x: float, y: float, s: float, colour: tuple[int, int, int],
            phase: float) -> None:
    swing = math.sin(phase) * 9
    cv2.line(img, _p(x, y - 40, s), _p(x - swing, y, s), (40, 40, 60), max(1, int(5 * s)))
    cv2.line(img, _p(x, y - 40, s), _p(x + swing, y, s), (40, 40, 60), max(1, int(5 * s)))
    cv2.rectangle(img, _p(x - 10, y - 85, s), _p(x + 10, y - 40, s), colour, -1)
    cv2.circle(img, _p(x, y - 97, s), max(2, int(11 * s)), (150, 180, 225), -1)


def _label(img: np.ndarray, text: str, s: float) -> None:
    cv2.putText(img, text, _p(24, 52, s), cv2.FONT_HERSHEY_SIMPLEX, 1.1 * s, (0, 0, 0),
                max(1, int(5 * s)), cv2.LINE_AA)
    cv2.putText(img, text, _p(24, 52, s), cv2.FONT_HERSHEY_SIMPLEX, 1.1 * s, (255, 255, 255),
                max(1, int(2 * s)), cv2.LINE_AA)


def _wrap(t: float, period: float, span: float, start: float) -> float:
    return start + (t % period) / period * span


# -- the scenes ----------------------------------------------------------------------------


def _bg_road(w: int, h: int) -> np.ndarray:
    s = w / 1280
    img = _sky_ground(w, h, 0.42, (235, 200, 150), (95, 140, 95))
    cv2.rectangle(img, _p(0, 330, s), _p(1280, 560, s), (85, 85, 85), -1)
    for x in range(0, 1280, 120):
        cv2.rectangle(img, _p(x, 440, s), _p(x + 60, 450, s), (240, 240, 240), -1)
    for i, x in enumerate(range(40, 1280, 230)):
        hh = 120 + (i * 37) % 90
        cv2.rectangle(img, _p(x, 302 - hh, s), _p(x + 170, 302, s),
                      (150 + i * 12 % 60, 170, 200 - i * 9 % 50), -1)
        for wy in range(312 - hh, 290, 40):
            for wx in range(x + 18, x + 160, 45):
                cv2.rectangle(img, _p(wx, wy, s), _p(wx + 24, wy + 22, s), (120, 90, 60), -1)
    cv2.rectangle(img, _p(0, 302, s), _p(1280, 330, s), (170, 170, 170), -1)
    return img


def _draw_road(img: np.ndarray, t: float, s: float) -> None:
    T = CLIP_SECONDS
    for k, col in enumerate(((40, 40, 200), (200, 120, 30), (30, 160, 230))):
        x = _wrap(t + k * T / 3, T / 2 if k == 1 else T, 1700, -260)
        _car(img, x, 430, s, col)
    for k, col in enumerate(((230, 230, 230), (60, 60, 60))):
        x = 1500 - _wrap(t + k * T / 2, T, 1800, 0)
        _car(img, x, 540, s, col, flip=True)
    _person(img, _wrap(t, T, 1400, -60), 325, s, (40, 120, 200), t * 7)
    _label(img, "VIA ROMA - INGRESSO", s)


def _bg_piazza(w: int, h: int) -> np.ndarray:
    s = w / 1280
    img = _sky_ground(w, h, 0.38, (240, 210, 170), (150, 175, 195))
    cv2.rectangle(img, _p(120, 60, s), _p(1160, 275, s), (120, 175, 215), -1)  # palazzo
    for wx in range(160, 1130, 90):
        for wy in (95, 180):
            cv2.rectangle(img, _p(wx, wy, s), _p(wx + 40, wy + 60, s), (80, 70, 60), -1)
    cv2.rectangle(img, _p(560, 190, s), _p(720, 275, s), (60, 60, 90), -1)  # portone
    for y in range(300, 720, 50):
        cv2.line(img, _p(0, y, s), _p(1280, y, s), (135, 160, 180), max(1, int(2 * s)))
    cv2.ellipse(img, _p(640, 520, s), _p(170, 60, s), 0, 0, 360, (170, 170, 170), -1)
    cv2.ellipse(img, _p(640, 515, s), _p(140, 45, s), 0, 0, 360, (200, 150, 90), -1)
    return img


def _draw_piazza(img: np.ndarray, t: float, s: float) -> None:
    T = CLIP_SECONDS
    a = 2 * math.pi * t / T
    cv2.ellipse(img, _p(640, 505, s), _p(40 + 8 * math.sin(a * 6), 25, s), 0, 0, 360,
                (240, 220, 190), -1)
    walkers = ((300, (30, 30, 160), 0.0), (620, (160, 60, 40), 0.33), (690, (40, 140, 60), 0.6))
    for k, (y, col, off) in enumerate(walkers):
        x = _wrap(t + off * T, T, 1500, -100) if k % 2 == 0 else 1400 - _wrap(
            t + off * T, T, 1500, 0)
        _person(img, x, y + 40, s * 1.0, col, t * 6 + k)
    cx = 640 + 380 * math.cos(a)
    cy = 600 + 60 * math.sin(a)
    cv2.circle(img, _p(cx, cy, s), max(2, int(14 * s)), (30, 30, 30), -1)  # un piccione
    _label(img, "PIAZZA GARIBALDI", s)


def _bg_roundabout(w: int, h: int) -> np.ndarray:
    s = w / 1280
    img = np.full((h, w, 3), (90, 130, 90), np.uint8)
    cv2.ellipse(img, _p(640, 380, s), _p(420, 250, s), 0, 0, 360, (90, 90, 90), -1)
    cv2.rectangle(img, _p(580, 0, s), _p(700, 720, s), (90, 90, 90), -1)
    cv2.rectangle(img, _p(0, 330, s), _p(1280, 430, s), (90, 90, 90), -1)
    cv2.ellipse(img, _p(640, 380, s), _p(230, 120, s), 0, 0, 360, (70, 150, 70), -1)
    cv2.ellipse(img, _p(640, 380, s), _p(230, 120, s), 0, 0, 360, (240, 240, 240),
                max(1, int(4 * s)))
    return img


def _draw_roundabout(img: np.ndarray, t: float, s: float) -> None:
    T = CLIP_SECONDS
    for k, col in enumerate(((40, 40, 200), (200, 200, 200), (200, 90, 30), (20, 200, 230))):
        a = 2 * math.pi * ((t / T) * (1 + k % 2) + k / 4)
        x = 640 + 330 * math.cos(a)
        y = 380 + 185 * math.sin(a)
        cv2.rectangle(img, _p(x - 30, y - 16, s), _p(x + 30, y + 16, s), col, -1)
        cv2.rectangle(img, _p(x - 14, y - 12, s), _p(x + 14, y + 12, s), (200, 170, 120), -1)
    _label(img, "ROTATORIA SP345 (TRAFFICO)", s)


def _bg_school(w: int, h: int) -> np.ndarray:
    s = w / 1280
    img = _sky_ground(w, h, 0.35, (230, 190, 140), (110, 110, 110))
    cv2.rectangle(img, _p(80, 70, s), _p(900, 250, s), (90, 160, 220), -1)
    cv2.putText(img, "SCUOLA PRIMARIA", _p(300, 120, s), cv2.FONT_HERSHEY_DUPLEX, 1.2 * s,
                (40, 40, 40), max(1, int(2 * s)), cv2.LINE_AA)
    for x in range(60, 1280, 160):
        cv2.line(img, _p(x, 420, s), _p(x + 110, 700, s), (230, 230, 230), max(1, int(4 * s)))
    cv2.rectangle(img, _p(1000, 140, s), _p(1020, 300, s), (60, 90, 120), -1)
    cv2.circle(img, _p(1010, 130, s), max(3, int(60 * s)), (60, 140, 60), -1)
    return img


def _draw_school(img: np.ndarray, t: float, s: float) -> None:
    T = CLIP_SECONDS
    phase = (t % T) / T
    x = 1400 - 900 * min(1.0, phase * 2.2) if phase < 0.75 else 500 - (phase - 0.75) * 4 * 1900
    _car(img, x, 560, s * 1.0, (60, 60, 200), length=210, flip=True)
    sway = 12 * math.sin(2 * math.pi * t / T * 3)
    cv2.circle(img, _p(1010 + sway, 130, s), max(3, int(58 * s)), (50, 150, 70), -1)
    _label(img, "PARCHEGGIO SCUOLA", s)


def _bg_municipio(w: int, h: int) -> np.ndarray:
    s = w / 1280
    img = _sky_ground(w, h, 0.2, (235, 205, 160), (120, 160, 200))
    cv2.rectangle(img, _p(60, 60, s), _p(1220, 560, s), (140, 190, 225), -1)
    for wx in range(110, 1180, 150):
        for wy in (100, 260, 410):
            cv2.rectangle(img, _p(wx, wy, s), _p(wx + 70, wy + 100, s), (70, 60, 50), -1)
            cv2.rectangle(img, _p(wx, wy, s), _p(wx + 70, wy + 100, s), (230, 230, 230),
                          max(1, int(4 * s)))
    cv2.rectangle(img, _p(0, 560, s), _p(1280, 720, s), (110, 110, 110), -1)
    return img


def _draw_municipio(img: np.ndarray, t: float, s: float) -> None:
    T = CLIP_SECONDS
    flag = 8 * math.sin(2 * math.pi * t / T * 4)
    cv2.line(img, _p(640, 20, s), _p(640, 110, s), (60, 60, 60), max(1, int(4 * s)))
    pts = np.array([_p(640, 22, s), _p(720, 34 + flag, s), _p(640, 50, s)], np.int32)
    cv2.fillPoly(img, [pts], (60, 160, 40))
    _person(img, _wrap(t, T, 1500, -80), 690, s, (90, 40, 140), t * 6)
    _label(img, "MUNICIPIO - FACCIATA", s)


def _bg_park(w: int, h: int) -> np.ndarray:
    s = w / 1280
    img = _sky_ground(w, h, 0.45, (240, 215, 180), (70, 150, 80))
    cv2.rectangle(img, _p(0, 470, s), _p(1280, 540, s), (150, 190, 210), -1)
    return img


def _draw_park(img: np.ndarray, t: float, s: float) -> None:
    T = CLIP_SECONDS
    for k, x in enumerate(range(100, 1280, 260)):
        sway = 10 * math.sin(2 * math.pi * t / T * 2 + k)
        cv2.rectangle(img, _p(x - 10, 300, s), _p(x + 10, 470, s), (40, 70, 100), -1)
        cv2.circle(img, _p(x + sway, 270, s), max(3, int(75 * s)), (40, 120 + k * 10, 50), -1)
    _person(img, _wrap(t, T, 1500, -80), 520, s, (30, 30, 200), t * 5)
    _person(img, 1400 - _wrap(t + 3, T, 1500, 0), 535, s, (200, 200, 40), t * 5 + 1)
    _label(img, "PARCO DELLA RESISTENZA", s)


CAMERAS: tuple[DemoCamera, ...] = (
    DemoCamera("piazza", "Cam 01", "Piazza Garibaldi", CameraKind.FIXED, _bg_piazza,
               _draw_piazza),
    DemoCamera("via-roma", "Cam 02", "Via Roma, ingresso", CameraKind.FIXED, _bg_road,
               _draw_road),
    DemoCamera("municipio", "Cam 03 PTZ", "Municipio, facciata", CameraKind.FIXED,
               _bg_municipio, _draw_municipio),
    DemoCamera("rotatoria", "Cam 04", "Rotatoria SP345", CameraKind.FIXED, _bg_roundabout,
               _draw_roundabout, anonymous=True),
    DemoCamera("scuola", "Cam 05", "Parcheggio scuola primaria", CameraKind.FIXED, _bg_school,
               _draw_school),
    DemoCamera("parco", "Cam 06", "Parco della Resistenza", CameraKind.FIXED, _bg_park,
               _draw_park),
)


def render_clip(cam: DemoCamera, path: Path, size: tuple[int, int], fps: int,
                seconds: int = CLIP_SECONDS) -> None:
    """Draw and encode one looping clip (H.264 in MP4) into ``path`` atomically."""
    w, h = size
    s = w / 1280
    background = cam.background(w, h)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(2 * fps),
                          "crf": "26"}
        for n in range(seconds * fps):
            canvas = background.copy()
            cam.drawer(canvas, n / fps, s)
            frame = av.VideoFrame.from_ndarray(canvas, format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)


def ensure_clips(directory: Path, progress: Callable[[str], None] | None = None) -> dict[
        str, tuple[Path, Path]]:
    """Make (once) the main and sub clip of every demo camera; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / "version.json"
    fresh = stamp.exists() and json.loads(stamp.read_text()).get("version") == DEMO_VERSION
    clips: dict[str, tuple[Path, Path]] = {}
    for cam in CAMERAS:
        main = directory / f"{cam.id}-main.mp4"
        sub = directory / f"{cam.id}-sub.mp4"
        for path, size, fps in ((main, MAIN_SIZE, MAIN_FPS), (sub, SUB_SIZE, SUB_FPS)):
            if not (fresh and path.exists()):
                if progress:
                    progress(f"{cam.place}: {size[0]}x{size[1]}")
                render_clip(cam, path, size, fps)
        clips[cam.id] = (main, sub)
    stamp.write_text(json.dumps({"version": DEMO_VERSION}))
    return clips


def demo_cameras(directory: Path,
                 progress: Callable[[str], None] | None = None) -> list[CameraConfig]:
    clips = ensure_clips(directory, progress)
    return [
        CameraConfig(
            id=cam.id, name=cam.name, place=cam.place, kind=cam.kind,
            main_url=str(clips[cam.id][0]), sub_url=str(clips[cam.id][1]),
            anonymous=cam.anonymous, loop=True, record=True,
        )
        for cam in CAMERAS
    ]


def demo_config(data_dir: Path, progress: Callable[[str], None] | None = None) -> CentraleConfig:
    """A complete configuration for the demo comune, its clips made in ``data_dir/demo``."""
    from console.config import CentraleConfig, SiteConfig, UiConfig

    return CentraleConfig(
        site=SiteConfig(comune="Comune di Valdemo (dimostrazione)",
                        control_room="Centrale operativa"),
        ui=UiConfig(grid_layout=4),
        cameras=demo_cameras(data_dir / "demo", progress),
    )


__all__ = ["CAMERAS", "DemoRecorder", "demo_cameras", "demo_config", "ensure_clips",
           "render_clip", "start_demo_recorder"]
