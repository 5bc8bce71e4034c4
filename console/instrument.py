"""Benchmark instrumentation, active only when ``CENTRALE_BENCH_STATS=/path/file.json`` is set.

:func:`install` is called by :class:`console.app.CentraleApp` in ``on_mount``. It measures,
inside the real console:

* **painted frames** per :class:`~screens.widgets.video.VideoView` (its ``painted_frames``
  counter: a frame counts once it has been turned into strips for the compositor, which
  writes them to the terminal in the same refresh) next to the frames its reader decoded;
* **key latency**: from a ``Key`` event's creation (``event.time``, stamped by the input
  thread with Textual's clock, ``time.monotonic`` on Linux) to the first screen refresh after
  the key was handled (``call_after_refresh`` scheduled when the App has dispatched the key,
  both on its first arrival and when it bubbles back; the last completion counts);
* **event-loop lag**: overshoot of a 10 ms ``asyncio.sleep`` loop;
* **first frame** per opened view: its mount to its first painted frame.

Everything is written as JSON to the file (atomically: temp file + rename) every second and at
exit. Times are ``time.monotonic()`` seconds, the same clock in every process of the machine,
so a driver can line them up with its own. Nothing here runs unless the variable is set.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events

if TYPE_CHECKING:
    from textual.app import App

ENV_VAR = "CENTRALE_BENCH_STATS"
WRITE_EVERY_S = 1.0
LAG_SLEEP_S = 0.010
#: per-second buckets of raw lag samples kept (and written)
LAG_BUCKETS_KEPT = 40
KEYS_KEPT = 2000
#: a key is final once nothing has completed it for this long
KEY_SETTLE_S = 0.5

_installed = False


class _Stats:
    def __init__(self, app: App[Any], path: Path) -> None:
        self.app = app
        self.path = path
        self.started = time.monotonic()
        self.lock = threading.Lock()
        # views: key -> dict (kept after unmount, so that the exit snapshot has them)
        self.views: dict[str, dict[str, Any]] = {}
        self.pending_keys: dict[tuple[int, float], dict[str, Any]] = {}
        self.keys: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEYS_KEPT)
        self.lag_buckets: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=LAG_BUCKETS_KEPT
        )
        self.samples: collections.deque[dict[str, Any]] = collections.deque(maxlen=60)
        self.writes = 0
        self.write_s = 0.0  # time the instrumentation spent in the event loop
        self.writing = threading.Lock()

    # -- views ------------------------------------------------------------------------

    @staticmethod
    def view_key(view: Any) -> str:
        return f"{view.camera_id}/{view.which}#{id(view):x}"

    def view_record(self, view: Any) -> dict[str, Any]:
        key = self.view_key(view)
        rec = self.views.get(key)
        if rec is None:
            rec = {
                "key": key,
                "camera_id": view.camera_id,
                "which": view.which,
                "mounted_at": view.mounted_at,
                "first_paint_at": None,
                "unmounted_at": None,
            }
            self.views[key] = rec
        return rec

    def poll_views(self, now: float) -> dict[str, Any]:
        from screens.widgets.video import VideoView

        current: dict[str, Any] = {}
        try:
            screen = self.app.screen
            views = list(screen.query(VideoView))
            screen_name = type(screen).__name__
        except Exception:  # noqa: BLE001 - no screen yet / shutting down
            views, screen_name = [], None
        for view in views:
            rec = self.view_record(view)
            rec["painted"] = int(getattr(view, "painted_frames", 0))
            rec["first_paint_at"] = rec["first_paint_at"] or view.first_painted_at
            rec["mounted_at"] = rec["mounted_at"] or view.mounted_at
            rec["cells"] = [view.size.width, view.size.height]
            handle = getattr(view, "_handle", None)
            reader = getattr(handle, "reader", None)
            if reader is not None:
                target = getattr(reader, "_target", None)
                rec["target_px"] = list(target) if target else None
                rec["decoded"] = int(getattr(reader, "_seq", 0))
                rec["dropped"] = int(getattr(reader, "_dropped", 0))
                rec["status"] = str(reader.status)
            current[rec["key"]] = {
                "painted": rec["painted"],
                "decoded": rec.get("decoded", 0),
            }
        return {"t": now, "screen": screen_name, "views": current}

    # -- keys -------------------------------------------------------------------------

    def key_handled(self, event: events.Key) -> None:
        """Called (in the App's task) after the App dispatched ``event``."""
        # id() alone is reused once an event is freed: pair it with the creation time
        ident = (id(event), event.time)
        with self.lock:
            rec = self.pending_keys.get(ident)
            if rec is None:
                rec = {"key": event.key, "t_event": event.time, "t_done": None, "n": 0,
                       "t_handled": []}
                self.pending_keys[ident] = rec
            rec["n"] += 1
            rec["t_handled"].append(round(time.monotonic() - event.time, 5))

        def refreshed() -> None:
            now = time.monotonic()
            with self.lock:
                if rec["t_done"] is None or now > rec["t_done"]:
                    rec["t_done"] = now

        self.app.call_after_refresh(refreshed)

    def settle_keys(self, now: float) -> None:
        with self.lock:
            for ident, rec in list(self.pending_keys.items()):
                done = rec["t_done"]
                if done is not None and now - done > KEY_SETTLE_S:
                    rec["latency_ms"] = round((done - rec["t_event"]) * 1000, 3)
                    del rec["n"]
                    self.keys.append(rec)
                    del self.pending_keys[ident]
                elif done is None and now - rec["t_event"] > 10:  # never refreshed
                    rec["latency_ms"] = None
                    self.keys.append(rec)
                    del self.pending_keys[ident]

    # -- event-loop lag ---------------------------------------------------------------

    async def lag_loop(self) -> None:
        sleep = asyncio.sleep
        mono = time.monotonic
        bucket: dict[str, Any] | None = None
        while True:
            t0 = mono()
            await sleep(LAG_SLEEP_S)
            t1 = mono()
            second = int(t1)
            if bucket is None or bucket["t"] != second:
                bucket = {"t": second, "lag_ms": []}
                self.lag_buckets.append(bucket)
            bucket["lag_ms"].append(round((t1 - t0 - LAG_SLEEP_S) * 1000, 2))

    # -- output -----------------------------------------------------------------------

    def snapshot(self, final: bool = False) -> dict[str, Any]:
        """Shallow copies of everything, taken in the event loop."""
        now = time.monotonic()
        if not final:
            self.samples.append(self.poll_views(now))
        self.settle_keys(now if not final else now + 2 * KEY_SETTLE_S)
        console = getattr(self.app, "console", None)
        return {
            "pid": os.getpid(),
            "t": now,
            "started": self.started,
            "final": final,
            "term": os.environ.get("TERM"),
            "colorterm": os.environ.get("COLORTERM"),
            "color_system": getattr(console, "color_system", None),
            "size": list(self.app.size) if not final else None,
            "views": list(self.views.values()),
            "samples": list(self.samples),
            "keys": list(self.keys),
            "lag": [{"t": b["t"], "lag_ms": list(b["lag_ms"])} for b in self.lag_buckets],
            "instrument": {"writes": self.writes, "loop_s": round(self.write_s, 4)},
        }

    def _dump(self, data: dict[str, Any]) -> None:
        with self.writing:
            try:
                tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(data, separators=(",", ":")))
                os.replace(tmp, self.path)
            except Exception:  # noqa: BLE001 - instrumentation must never take the console down
                pass

    def write(self, final: bool = False) -> None:
        """Snapshot in the event loop; serialise and write in a thread (or here at exit)."""
        t0 = time.perf_counter()
        try:
            data = self.snapshot(final)
        except Exception:  # noqa: BLE001 - never take the console down
            return
        self.writes += 1
        self.write_s += time.perf_counter() - t0
        if final:
            self._dump(data)
        else:
            threading.Thread(target=self._dump, args=(data,), name="bench-stats",
                             daemon=True).start()


def install(app: App[Any]) -> None:
    """Start measuring if ``CENTRALE_BENCH_STATS`` names a file; otherwise do nothing."""
    global _installed
    target = os.environ.get(ENV_VAR)
    if not target or _installed:
        return
    _installed = True
    stats = _Stats(app, Path(target))

    original_on_event = app.on_event

    async def on_event(event: events.Event) -> None:
        await original_on_event(event)
        if isinstance(event, events.Key):
            stats.key_handled(event)

    app.on_event = on_event  # type: ignore[method-assign]

    loop = asyncio.get_running_loop()
    lag_task = loop.create_task(stats.lag_loop())
    app._bench_stats = stats  # type: ignore[attr-defined]
    app._bench_lag_task = lag_task  # type: ignore[attr-defined]
    app.set_interval(WRITE_EVERY_S, stats.write, name="bench-stats")
    atexit.register(stats.write, True)
    stats.write()


__all__ = ["ENV_VAR", "install"]
