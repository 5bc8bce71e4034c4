"""The half-block renderer: the fast escape strings and the lazy segments show the same cells."""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.console import Console
from textual.strip import Strip

from screens.widgets.halfblock import (
    RowEncoder,
    VideoStrip,
    color_mode,
    strips_for_picture,
    xterm256,
)

SGR = re.compile(r"\x1b\[([0-9;]*)m([^\x1b]*)")


def cells(rendered: str) -> list[tuple[tuple[int, ...], str]]:
    """(SGR parameters in force, character) for every printed cell."""
    out: list[tuple[tuple[int, ...], str]] = []
    for codes, text in SGR.findall(rendered):
        params = tuple(int(v) for v in codes.split(";") if v)
        for ch in text:
            out.append((params, ch))
    return out


@pytest.fixture
def picture() -> np.ndarray:
    rng = np.random.default_rng(7)
    pic = rng.integers(0, 256, size=(12, 33, 3), dtype=np.uint8)
    pic[:, 10:20] = (30, 60, 90)  # a flat area, so that segments merge runs
    return pic


@pytest.mark.parametrize("mode", ["truecolor", "256"])
def test_fast_string_and_segments_show_the_same_cells(picture: np.ndarray, mode: str) -> None:
    console = Console(color_system=mode, force_terminal=True, width=200)
    strips = strips_for_picture(picture, mode, RowEncoder())
    assert len(strips) == 6
    for strip in strips:
        assert strip.cell_length == 33
        fast = strip.render(console)
        slow = Strip(list(strip), 33).render(console)  # built from the segments
        assert cells(fast) == cells(slow)
        assert len(cells(fast)) == 33
        assert {ch for _, ch in cells(fast)} == {"▀"}


def test_truecolor_cells_carry_the_exact_pixels(picture: np.ndarray) -> None:
    strips = strips_for_picture(picture, "truecolor", RowEncoder())
    console = Console(color_system="truecolor", force_terminal=True)
    params = [p for p, _ in cells(strips[2].render(console))]
    for x, p in enumerate(params):
        assert p == (38, 2, *picture[4, x], 48, 2, *picture[5, x])


def test_256_colour_mapping_is_the_nearest_palette_colour() -> None:
    levels = [0, 95, 135, 175, 215, 255]
    palette = [(levels[i // 36], levels[i // 6 % 6], levels[i % 6]) for i in range(216)]
    palette += [(8 + 10 * i,) * 3 for i in range(24)]
    pal = np.array(palette, dtype=np.int32)
    rng = np.random.default_rng(1)
    samples = rng.integers(0, 256, size=(2000, 3), dtype=np.uint8)
    got = xterm256(samples).astype(np.int32) - 16
    err_got = ((pal[got] - samples.astype(np.int32)) ** 2).sum(axis=1)
    err_best = ((pal[None, :, :] - samples.astype(np.int32)[:, None, :]) ** 2).sum(axis=2).min(1)
    assert (err_got == err_best).mean() > 0.99  # ties between cube and grey may differ
    assert (err_got <= err_best + 3 * 20**2).all()
    # palette colours map to themselves
    assert xterm256(np.array([[255, 0, 0]], np.uint8))[0] == 196
    assert xterm256(np.array([[128, 128, 128]], np.uint8))[0] == 244


def test_crop_and_divide_use_segments_and_stay_correct(picture: np.ndarray) -> None:
    """What Textual does when a toast or tooltip overlaps a tile."""
    console = Console(color_system="truecolor", force_terminal=True)
    strip = strips_for_picture(picture, "truecolor", RowEncoder())[0]
    plain = Strip(list(strip), 33)
    for a, b in [(0, 10), (5, 33), (7, 8), (0, 33)]:
        assert cells(strip.crop(a, b).render(console)) == cells(plain.crop(a, b).render(console))
    parts = strip.divide([4, 20, 33])
    assert [p.cell_length for p in parts] == [4, 16, 13]
    joined = "".join(p.render(console) for p in parts)
    assert cells(joined) == cells(plain.render(console))


def test_fast_path_builds_no_segments(picture: np.ndarray) -> None:
    """An uncut row goes to the terminal without a Python object per cell."""
    console = Console(color_system="truecolor", force_terminal=True)
    strip = strips_for_picture(picture, "truecolor", RowEncoder())[0]
    assert isinstance(strip, VideoStrip)
    assert strip.divide([33]) == [strip]
    assert strip.render(console).endswith("\x1b[0m")
    assert strip._lazy_segments is None
    assert strip._lazy_caches is None  # no per-row cache objects either


def test_other_colour_systems_use_rich_downgrade() -> None:
    # fresh colours: Textual caches a style's codes for the colour system it first met
    picture = np.random.default_rng(99).integers(0, 256, size=(4, 9, 3), dtype=np.uint8)
    assert color_mode(Console(color_system="standard", force_terminal=True)) is None
    strips = strips_for_picture(picture, None, None)
    rendered = strips[0].render(Console(color_system="standard", force_terminal=True))
    assert "38;2;" not in rendered and "▀" in rendered
