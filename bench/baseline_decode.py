"""Bare PyAV baseline: decode N RTSP streams and scale each frame, nothing else.

Does what :class:`cameras.stream.StreamReader` does per stream, without the console: one
thread per stream, the same open options (RTSP over TCP, ``fpsprobesize=0``, small
``analyzeduration``/``probesize``, open/read timeouts), ``thread_type = "AUTO"``, and every
decoded frame turned into an RGB array of the tile's pixel size with
``frame.to_ndarray(width, height, format="rgb24", interpolation="AREA")``.

    python bench/baseline_decode.py --size 43x24 URL [URL ...]

Prints ``READY`` once every stream has delivered a frame, and on SIGTERM/SIGINT a JSON line
with the frames decoded per stream. The benchmark driver measures this process's CPU.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

import av


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("urls", nargs="+")
    p.add_argument("--size", type=parse_size, required=True, help="WxH of every output")
    p.add_argument("--analyzeduration-us", type=int, default=500000)
    p.add_argument("--probesize", type=int, default=500000)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--no-decode", action="store_true",
                   help="only read packets (the driver's keep-alive client)")
    a = p.parse_args()

    stop = threading.Event()
    counts = [0] * len(a.urls)
    first = [threading.Event() for _ in a.urls]
    errors: list[str] = []
    width, height = a.size

    def run(i: int, url: str) -> None:
        options = {
            "fpsprobesize": "0",
            "analyzeduration": str(a.analyzeduration_us),
            "probesize": str(max(32, a.probesize)),
            "rtsp_transport": "tcp",
            "rtsp_flags": "prefer_tcp",
        }
        try:
            container = av.open(url, options=options, timeout=(a.timeout, a.timeout))
        except Exception as exc:  # noqa: BLE001 - reported; the driver gives up on this run
            errors.append(f"{url}: {exc}")
            first[i].set()
            return
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for packet in container.demux(stream):
                if stop.is_set():
                    break
                if a.no_decode:
                    counts[i] += 1
                    first[i].set()
                    continue
                for frame in packet.decode():
                    frame.to_ndarray(
                        width=width, height=height, format="rgb24", interpolation="AREA"
                    )
                    counts[i] += 1
                    first[i].set()
        except Exception as exc:  # noqa: BLE001 - reported in the JSON line
            errors.append(f"{url}: {exc}")
        finally:
            container.close()

    threads = [
        threading.Thread(target=run, args=(i, u), name=f"base-{i}", daemon=True)
        for i, u in enumerate(a.urls)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()

    def on_signal(_sig: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for ev in first:
        while not ev.wait(0.1):
            if stop.is_set():
                break
    print(f"READY {time.monotonic() - started:.3f}", flush=True)
    while not stop.wait(0.2):
        pass
    print(json.dumps({"frames": counts, "errors": errors,
                      "elapsed": time.monotonic() - started}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
