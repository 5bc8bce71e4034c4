"""Half-block video rendering: two pixels per terminal cell, built with numpy.

Each cell shows ``▀`` with the upper pixel as foreground and the lower pixel as background.
A picture of W x 2H pixels becomes H rows of W cells.

Two renderings of the same row are produced together:

* the **fast path**: the row's whole escape sequence, built at once with numpy as
  fixed-width SGR codes (``ESC[38;2;RRR;GGG;BBB;48;2;RRR;GGG;BBBm▀``, zero-padded so every
  cell has the same byte length), from which a cell whose colours equal its left
  neighbour's keeps only its character; used verbatim when the row reaches the terminal
  in one piece;
* the **safe path**: ordinary Rich segments (one ``▀`` per cell with a cached ``Style``),
  built only if Textual has to cut the row, which happens when a toast or tooltip overlaps
  the tile, or when a modal screen or the command palette is drawn over it (Textual then
  renders the screen below from its segments, dimmed).

:class:`VideoStrip` carries both: its render cache holds the fast string and its segments
are computed lazily on first access, so that the common case never builds a Python object
per cell, while any crop, divide or filter that Textual applies sees correct segments.

For 256-colour terminals the pixels are mapped to the xterm palette (6x6x6 cube plus the
grey ramp, whichever is nearer) and written as ``38;5;N``; other colour systems use only the
safe path, where Rich downgrades the colours itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache
from textual.strip import Strip

UPPER_HALF = "▀"

# ---------------------------------------------------------------------------------------
# digit tables: value -> 3 ASCII digits, zero padded
_DIGITS = np.array([list(f"{v:03d}".encode()) for v in range(256)], dtype=np.uint8)

_TRUE_PREFIX = b"\x1b[38;2;"
_TRUE_MID = b";48;2;"
_CHAR = UPPER_HALF.encode()
_END = b"m" + _CHAR
# layout of one truecolor cell: prefix(7) RRR;GGG;BBB (11) mid(6) RRR;GGG;BBB (11) end(4)
_TRUE_CELL = len(_TRUE_PREFIX) + 11 + len(_TRUE_MID) + 11 + len(_END)

_256_PREFIX = b"\x1b[38;5;"
_256_MID = b";48;5;"
_256_CELL = len(_256_PREFIX) + 3 + len(_256_MID) + 3 + len(_END)

RESET = "\x1b[0m"


def _template(cell_bytes: bytes, width: int) -> np.ndarray:
    row = np.frombuffer(cell_bytes * width, dtype=np.uint8).reshape(width, len(cell_bytes))
    return row.copy()


def _true_cell_template() -> bytes:
    return _TRUE_PREFIX + b"000;000;000" + _TRUE_MID + b"000;000;000" + _END


def _256_cell_template() -> bytes:
    return _256_PREFIX + b"000" + _256_MID + b"000" + _END


# offsets of the digit triplets inside one cell
_TRUE_FG = [len(_TRUE_PREFIX) + 4 * i for i in range(3)]
_TRUE_BG = [len(_TRUE_PREFIX) + 11 + len(_TRUE_MID) + 4 * i for i in range(3)]
_256_FG = len(_256_PREFIX)
_256_BG = len(_256_PREFIX) + 3 + len(_256_MID)


class RowEncoder:
    """Encodes RGB pictures into terminal rows; reuses its buffers between frames."""

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None
        self._key: tuple[str, int, int] | None = None
        self._keep: np.ndarray | None = None

    def _buffer(self, mode: str, rows: int, width: int) -> np.ndarray:
        key = (mode, rows, width)
        if self._key != key or self._buf is None:
            cell = _true_cell_template() if mode == "truecolor" else _256_cell_template()
            tpl = _template(cell, width)
            self._buf = np.broadcast_to(tpl, (rows, *tpl.shape)).copy()
            self._key = key
        return self._buf

    def encode(self, rgb: np.ndarray, mode: str) -> list[str]:
        """Return one escape string per cell row (``mode``: ``truecolor`` or ``256``).

        ``rgb`` has shape (2H, W, 3); an odd last pixel row is dropped.
        """
        rows = rgb.shape[0] // 2
        width = rgb.shape[1]
        top = rgb[0 : rows * 2 : 2]
        bottom = rgb[1 : rows * 2 : 2]
        buf = self._buffer(mode, rows, width)
        if mode == "truecolor":
            for ch in range(3):
                a = _TRUE_FG[ch]
                buf[:, :, a : a + 3] = _DIGITS[top[:, :, ch]]
                b = _TRUE_BG[ch]
                buf[:, :, b : b + 3] = _DIGITS[bottom[:, :, ch]]
            fg, bg = top, bottom
        else:
            fg, bg = xterm256(top), xterm256(bottom)
            buf[:, :, _256_FG : _256_FG + 3] = _DIGITS[fg]
            buf[:, :, _256_BG : _256_BG + 3] = _DIGITS[bg]
        # A cell with the colours of the cell before it needs no SGR: the terminal still has
        # them. Keep only its character (the last bytes of the cell). The first cell of a row
        # always carries its colours, so every row stands on its own.
        same = (fg[:, 1:] == fg[:, :-1]) & (bg[:, 1:] == bg[:, :-1])
        if same.ndim == 3:
            same = same.all(axis=2)
        keep = self._mask(rows, width, buf.shape[2])
        keep[:, 1:, : -len(_CHAR)] = ~same[:, :, None]
        data = buf[keep]
        ends = np.cumsum(keep.reshape(rows, -1).sum(axis=1))
        blob = data.tobytes()
        out: list[str] = []
        start = 0
        for end in ends.tolist():
            out.append(blob[start:end].decode() + RESET)
            start = end
        return out

    def _mask(self, rows: int, width: int, cell: int) -> np.ndarray:
        if self._keep is None or self._keep.shape != (rows, width, cell):
            self._keep = np.ones((rows, width, cell), dtype=bool)
        else:
            self._keep[:] = True
        return self._keep


# ---------------------------------------------------------------------------------------
# xterm 256-colour palette

_CUBE_LEVELS = np.array([0, 95, 135, 175, 215, 255], dtype=np.int32)
# value -> index of the nearest cube level
_CUBE_INDEX = np.abs(np.arange(256)[:, None] - _CUBE_LEVELS[None, :]).argmin(axis=1).astype(
    np.int32
)
_GREY_LEVELS = np.arange(24, dtype=np.int32) * 10 + 8


def xterm256(rgb: np.ndarray) -> np.ndarray:
    """Map an (..., 3) uint8 RGB array to xterm-256 palette indices (uint8)."""
    r = rgb[..., 0].astype(np.int32)
    g = rgb[..., 1].astype(np.int32)
    b = rgb[..., 2].astype(np.int32)
    ri, gi, bi = _CUBE_INDEX[r], _CUBE_INDEX[g], _CUBE_INDEX[b]
    cube = 16 + 36 * ri + 6 * gi + bi
    cr, cg, cb = _CUBE_LEVELS[ri], _CUBE_LEVELS[gi], _CUBE_LEVELS[bi]
    cube_err = (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2
    mean = (r + g + b) / 3.0  # the grey nearest to a colour is the grey of its mean
    gi2 = np.clip(np.rint((mean - 8) / 10), 0, 23).astype(np.int32)
    gl = _GREY_LEVELS[gi2]
    grey_err = (r - gl) ** 2 + (g - gl) ** 2 + (b - gl) ** 2
    out = np.where(grey_err < cube_err, 232 + gi2, cube)
    return out.astype(np.uint8)


# ---------------------------------------------------------------------------------------
# the safe path


class _StyleCache:
    """Rich styles per (foreground, background) pair, bounded."""

    LIMIT = 65536

    def __init__(self) -> None:
        self._styles: dict[tuple[int, int, bool], Style] = {}

    def get(self, fg: int, bg: int, indexed: bool) -> Style:
        key = (fg, bg, indexed)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) >= self.LIMIT:
                self._styles.clear()
            if indexed:
                style = Style(color=RichColor.from_ansi(fg), bgcolor=RichColor.from_ansi(bg))
            else:
                style = Style(
                    color=RichColor.from_rgb(fg >> 16, (fg >> 8) & 255, fg & 255),
                    bgcolor=RichColor.from_rgb(bg >> 16, (bg >> 8) & 255, bg & 255),
                )
            self._styles[key] = style
        return style


_STYLES = _StyleCache()


def _packed(rgb: np.ndarray) -> np.ndarray:
    a = rgb.astype(np.uint32)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def row_segments(top: np.ndarray, bottom: np.ndarray, indexed: bool = False) -> list[Segment]:
    """Rich segments for one cell row, runs of equal cells merged.

    ``top``/``bottom`` are (W, 3) RGB rows, or (W,) xterm-256 indices when ``indexed``.
    """
    if indexed:
        fg, bg = top.tolist(), bottom.tolist()
    else:
        fg, bg = _packed(top).tolist(), _packed(bottom).tolist()
    segments: list[Segment] = []
    get = _STYLES.get
    run = 0
    prev: tuple[int, int] | None = None
    for pair in zip(fg, bg, strict=True):
        if pair == prev:
            run += 1
            continue
        if prev is not None:
            segments.append(Segment(UPPER_HALF * run, get(*prev, indexed)))
        prev, run = pair, 1
    if prev is not None:
        segments.append(Segment(UPPER_HALF * run, get(*prev, indexed)))
    return segments


def _lazy_cache(name: str, size: int) -> property:
    """A Strip cache made only when Textual first uses it (most video rows never need one)."""

    def get(self: VideoStrip) -> FIFOCache[Any, Any]:
        caches = self._lazy_caches
        if caches is None:
            caches = self._lazy_caches = {}
        cache = caches.get(name)
        if cache is None:
            cache = caches[name] = FIFOCache(size)
        return cache

    def set_(self: VideoStrip, value: FIFOCache[Any, Any]) -> None:
        if self._lazy_caches is None:
            self._lazy_caches = {}
        self._lazy_caches[name] = value

    return property(get, set_)


class VideoStrip(Strip):
    """A strip whose terminal rendering is precomputed and whose segments are lazy.

    ``Strip.__init__`` is not called: it builds seven caches per row, which for video rows
    (16 tiles x 12 rows x 10 fps) cost as much as encoding the picture. The caches and the
    segments are made on first use instead; an uncut row only ever needs its render cache.
    """

    __slots__ = ("_lazy_caches", "_lazy_indexed", "_lazy_rows", "_lazy_segments")

    def __init__(
        self, rendered: str | None, top: np.ndarray, bottom: np.ndarray, indexed: bool = False
    ) -> None:
        self._lazy_rows = (top, bottom)
        self._lazy_indexed = indexed
        self._lazy_segments: list[Segment] | None = None
        self._lazy_caches: dict[str, FIFOCache[Any, Any]] | None = None
        self._cell_length = top.shape[0]
        self._render_cache = rendered
        self._link_ids = None
        self._cell_count = None

    @property  # type: ignore[override]
    def _segments(self) -> list[Segment]:
        if self._lazy_segments is None:
            self._lazy_segments = row_segments(*self._lazy_rows, self._lazy_indexed)
        return self._lazy_segments

    @_segments.setter
    def _segments(self, value: Iterable[Segment]) -> None:
        value = list(value)
        self._lazy_segments = value or None

    _divide_cache = _lazy_cache("divide", 4)  # type: ignore[assignment]
    _crop_cache = _lazy_cache("crop", 16)  # type: ignore[assignment]
    _style_cache = _lazy_cache("style", 16)  # type: ignore[assignment]
    _filter_cache = _lazy_cache("filter", 4)  # type: ignore[assignment]
    _line_length_cache = _lazy_cache("line_length", 4)  # type: ignore[assignment]
    _crop_extend_cache = _lazy_cache("crop_extend", 4)  # type: ignore[assignment]
    _offsets_cache = _lazy_cache("offsets", 4)  # type: ignore[assignment]

    def divide(self, cuts: Iterable[int]) -> Sequence[Strip]:
        cuts = list(cuts)
        if cuts == [self._cell_length]:  # the compositor's usual call: the row is not cut
            return [self]
        return super().divide(cuts)


def strips_for_picture(
    rgb: np.ndarray,
    mode: str | None,
    encoder: RowEncoder | None,
    rendered: list[str] | None = None,
) -> list[Strip]:
    """Strips for a (2H, W, 3) RGB picture; ``mode`` None means safe path only.

    ``rendered``: the rows already encoded by ``encoder.encode(rgb, mode)``, if at hand.
    """
    rows = rgb.shape[0] // 2
    texts: list[str] | list[None]
    if rendered is not None:
        texts = rendered
    elif mode in ("truecolor", "256") and encoder is not None:
        texts = encoder.encode(rgb, mode)
    else:
        texts = [None] * rows
    if mode == "256":
        # the segments must show exactly what the fast path shows: the same palette indices
        idx = xterm256(rgb[: rows * 2])
        return [VideoStrip(texts[y], idx[2 * y], idx[2 * y + 1], True) for y in range(rows)]
    return [VideoStrip(texts[y], rgb[2 * y], rgb[2 * y + 1]) for y in range(rows)]


def color_mode(console: Any) -> str | None:
    """``truecolor``, ``256`` or None (let Rich downgrade) for a Rich console."""
    system = getattr(console, "color_system", None)
    if system == "truecolor":
        return "truecolor"
    if system == "256":
        return "256"
    return None


__all__ = [
    "RESET",
    "UPPER_HALF",
    "RowEncoder",
    "VideoStrip",
    "color_mode",
    "row_segments",
    "strips_for_picture",
    "xterm256",
]
