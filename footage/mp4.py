"""Segment files: encrypted fragmented MP4 written by stream copy, and read back.

FFmpeg's MP4 muxer does the work: fragments at keyframes (``frag_keyframe``), an empty
``moov`` up front so that a file cut anywhere is readable up to its last complete fragment,
and Common Encryption (``cenc-aes-ctr``) with the segment's own key (docs/design/recording.md,
"Encryption and unrecoverable deletion"). The muxer writes through :class:`SegmentFile`, a
file object of ours, so that every byte is hashed as it is written, each fragment is
``fdatasync``-ed when the muxer hands it over, and ``ENOSPC`` arrives as an ``OSError``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import av
import av.error

#: ``movflags`` of every segment; ``flush_packets`` hands a fragment to us as soon as the
#: next keyframe closes it.
MUXER_OPTIONS: Final = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "flush_packets": "1",
}
KEY_BYTES: Final = 16


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def muxer_options(key: bytes) -> dict[str, str]:
    """Options for ``av.open(..., "w", format="mp4")`` writing a segment under *key*."""
    return {
        **MUXER_OPTIONS,
        "encryption_scheme": "cenc-aes-ctr",
        "encryption_key": key.hex(),
        # The key id only names the key inside the file; ours is random, it identifies
        # nothing outside it.
        "encryption_kid": secrets.token_bytes(16).hex(),
    }


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (files created, renamed, unlinked) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, stop_at: Path) -> None:
    """``mkdir -p`` that fsyncs each parent whose entries changed, up to *stop_at*."""
    missing: list[Path] = []
    p = path
    while not p.exists() and p != stop_at and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        fsync_dir(d.parent)


class SegmentFile:
    """The file object the muxer writes to: create-exclusive, hashed, synced per fragment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fsync_dir(path.parent)
        self.size = 0
        self._hash = hashlib.sha256()
        self._unsynced = False

    # file-object protocol used by PyAV
    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            n = os.write(self._fd, view[done:])
            if n <= 0:  # pragma: no cover - os.write raises instead
                raise OSError(errno.EIO, "short write")
            self._hash.update(view[done : done + n])
            done += n
            self.size += n
        self._unsynced = True
        return done

    def flush(self) -> None:
        pass

    def sync(self) -> None:
        """``fdatasync`` what was written since the last call (one fragment)."""
        if self._unsynced:
            os.fdatasync(self._fd)
            self._unsynced = False

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self, *, sync: bool = True) -> None:
        if self._fd < 0:
            return
        try:
            if sync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1


# ------------------------------------------------------------------------ reading back


def _boxes(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of the top-level boxes, stopping at the first incomplete one."""
    pos, size = 0, len(data)
    while pos + 8 <= size:
        length, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if length == 1:
            if pos + 16 > size:
                return
            length = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif length == 0:  # "to the end of the file": only a finished file may say so
            length = size - pos
        if length < header or pos + length > size:
            return
        yield kind, pos, pos + length
        pos += length


def complete_prefix(path: Path) -> tuple[int, int]:
    """(bytes up to the end of the last complete fragment, complete fragments).

    0 bytes when the header (``ftyp`` + ``moov``) itself is incomplete. A fragment is a
    ``moof`` followed by its ``mdat``; anything after the last such pair is the fragment
    that was being written.
    """
    data = path.read_bytes()
    end, fragments, have_moov, pending_moof = 0, 0, False, False
    for kind, _start, stop in _boxes(data):
        if kind == b"moov":
            have_moov = True
        elif kind == b"moof":
            pending_moof = True
        elif kind == b"mdat" and pending_moof and have_moov:
            pending_moof = False
            fragments += 1
            end = stop
    return (end, fragments) if have_moov else (0, 0)


def file_sha256(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


@dataclass(frozen=True)
class Probe:
    duration_s: float
    frames: int


def open_segment(path: Path, key: bytes) -> Any:
    """A PyAV input container that decrypts the segment with *key* (our own reader)."""
    return av.open(str(path), options={"decryption_key": key.hex()})


def probe(path: Path, key: bytes) -> Probe:
    """Duration (first packet to the end of the last) and packet count, without decoding."""
    container = open_segment(path, key)
    try:
        stream = container.streams.video[0]
        tb = float(stream.time_base or 0)
        first: int | None = None
        last_end = 0
        frames = 0
        step = 0
        try:
            for packet in container.demux(stream):
                if packet.dts is None or not packet.size:
                    continue
                frames += 1
                if first is None:
                    first = packet.dts
                if packet.duration:
                    step = packet.duration
                last_end = max(last_end, packet.dts + (packet.duration or step))
        except av.error.FFmpegError:
            pass  # a damaged tail: what was read counts
        if first is None:
            return Probe(0.0, 0)
        return Probe(max(0.0, (last_end - first) * tb), frames)
    finally:
        container.close()
