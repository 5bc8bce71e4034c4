"""Support for the export tests (no tests here): a real recording from the GStreamer peer,
the services around it, and helpers that read exported clips back frame by frame."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyzipper
from db_support import stored_session
from peers import GstRtspPeer, wait_until

from cameras.config import StreamSettings
from cameras.stream import StreamSource
from footage.export import ExportCamera, Exporter, ExportSettings
from footage.index import FootageIndex
from footage.mp4 import open_segment
from footage.recorder import CameraRecorder, RecorderSettings
from registry.audit import AuditTrail
from registry.clock import utc_now
from registry.register import AccessKind, AccessRegister, AccessRequest
from registry.session import Session
from registry.store import Store
from registry.store_footage import FootageStore, SegmentRow

FAST = StreamSettings(open_timeout_s=3, read_timeout_s=3, reconnect_min_s=0.2,
                      reconnect_max_s=1.0)
SIGNATURE = "firma-valida"
PASSWORD = "Procura-2026-Brescia"
CAMERAS = {
    "cam1": ExportCamera("cam1", "Piazza – dome", "Piazza Università"),
    "cam2": ExportCamera("cam2", "Parcheggio", "Via Sant'Antonio"),
    "ptz1": ExportCamera("ptz1", "Dome PTZ", "Piazza Zanardelli", ptz=True),
}
_ids = itertools.count(1)


@dataclass
class Env:
    data: Path
    store: Store
    index: FootageIndex
    audit: AuditTrail
    register: AccessRegister
    exporter: Exporter

    def segments(self, camera: str) -> list[SegmentRow]:
        return self.index.store.segments(camera=camera)

    def person(self, role: str, username: str | None = None) -> Session:
        username = username or f"{role[:4]}{next(_ids)}"
        return stored_session(self.store, username, role, utc_now(), session_id=next(_ids))

    def entry(self, session: Session, camera: str, start: datetime, end: datetime,
              recipient: str = "Procura della Repubblica di Brescia") -> int:
        return self.register.open_entry(session, AccessRequest(
            kind=AccessKind.EXPORT, purpose="police_investigation", cameras=[camera],
            span_from=start, span_to=end, recipient=recipient,
            observations="rif. autorizzazione prot. 123/2026"), SIGNATURE).id


def record(gst: GstRtspPeer, data: Path, cameras: tuple[str, ...], segments: int) -> None:
    """Record the peer's /file mount (car-detection.mp4, keyframes every 4.8 s) for each of
    *cameras* at once, until each has *segments* complete segments."""
    store = Store.open(data)
    try:
        index = FootageIndex(data, FootageStore(store))
        recs = [CameraRecorder(StreamSource(c, gst.file_url), index, stream_settings=FAST,
                               settings=RecorderSettings(segment_s=2.0)) for c in cameras]
        for r in recs:
            r.start()
        ok = wait_until(lambda: all(len(index.store.segments(camera=c)) >= segments
                                    for c in cameras), 40)
        for r in recs:
            r.stop()
        assert ok, [r.detail for r in recs]
    finally:
        store.close()


def open_env(data: Path, settings: ExportSettings | None = None) -> Env:
    store = Store.open(data)
    index = FootageIndex(data, FootageStore(store))
    audit = AuditTrail(store, b"k" * 32, utc_now)
    register = AccessRegister(store, audit, lambda s, p: p == SIGNATURE)
    exporter = Exporter(index, store, audit, register, CAMERAS, settings or ExportSettings())
    return Env(data, store, index, audit, register, exporter)


def extract(package: Path, password: str, out: Path) -> dict[str, bytes]:
    with pyzipper.AESZipFile(package) as zf:
        zf.setpassword(password.encode())
        return {n: zf.read(n) for n in zf.namelist()}


def clip_frames(clip: Path, clip_from: datetime) -> Iterator[tuple[datetime, np.ndarray]]:
    """(wall time, RGB) of each frame of an exported clip: its pts counted from clip_from."""
    container = av.open(str(clip))
    try:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base)
        first: int | None = None
        for frame in container.decode(stream):
            if first is None:
                first = frame.pts
            at = clip_from + timedelta(seconds=float((frame.pts - first) * tb))
            yield at, frame.to_ndarray(format="rgb24")
    finally:
        container.close()


def source_frames(env: Env, camera: str) -> list[tuple[datetime, np.ndarray]]:
    """Every recorded frame of *camera* with its wall time (the unexported truth)."""
    out: list[tuple[datetime, np.ndarray]] = []
    for seg in env.segments(camera):
        container = open_segment(env.index.path_of(seg), seg.key)
        try:
            stream = container.streams.video[0]
            tb = Fraction(stream.time_base)
            first: int | None = None
            for frame in container.decode(stream):
                if first is None:
                    first = frame.pts
                at = seg.start_at + timedelta(seconds=float((frame.pts - first) * tb))
                out.append((at, frame.to_ndarray(format="rgb24")))
        finally:
            container.close()
    return out


def nearest(frames: list[tuple[datetime, np.ndarray]], at: datetime) -> np.ndarray:
    best = min(frames, key=lambda f: abs((f[0] - at).total_seconds()))
    assert abs((best[0] - at).total_seconds()) < 0.05, (best[0], at)
    return best[1]


def gradient_energy(region: Any) -> float:
    """Mean absolute difference between neighbouring pixels: detail that blur removes."""
    r = np.asarray(region, dtype=np.int16)
    return float(np.abs(np.diff(r, axis=0)).mean() + np.abs(np.diff(r, axis=1)).mean())
