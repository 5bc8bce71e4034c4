"""Every user-facing message has its Italian translation, and the compiled catalogue is current."""

from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from registry import i18n

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "registry/locale/it/LC_MESSAGES/centrale.po"
MO = PO.with_suffix(".mo")


def test_every_message_in_the_code_is_translated(tmp_path: Path) -> None:
    pot = tmp_path / "centrale.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "--no-location",
         "-k", "_", "-k", "N_", "-k", "ngettext:1,2", "-o", str(pot),
         "console", "cameras", "ptz", "registry", "footage", "screens"],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with PO.open("rb") as f:
        catalogue = read_po(f)
    translated = set()
    for m in catalogue:
        if not m.id or "fuzzy" in m.flags:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if all(strings):
            translated.add(m.id if isinstance(m.id, str) else m.id[0])
    missing = sorted(wanted - translated)
    assert not missing, f"run scripts/i18n.sh and translate: {missing}"


def test_compiled_catalogue_matches_the_po_file() -> None:
    with PO.open("rb") as f:
        catalogue = read_po(f)
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in catalogue:
        if not m.id or "fuzzy" in m.flags:
            continue
        if isinstance(m.id, str):
            assert compiled.gettext(m.id) == m.string, f"stale .mo: run scripts/i18n.sh ({m.id})"


def test_language_choice() -> None:
    assert i18n.pick_language(None, {}) == "it"
    assert i18n.pick_language(None, {"LANG": "C.UTF-8"}) == "it"
    assert i18n.pick_language(None, {"LANG": "en_GB.UTF-8"}) == "en"
    assert i18n.pick_language(None, {"LANG": "de_DE.UTF-8"}) == "it"
    assert i18n.pick_language(None, {"LANG": "en_US.UTF-8", "LC_ALL": "it_IT.UTF-8"}) == "it"
    assert i18n.pick_language("en", {"LANG": "it_IT.UTF-8"}) == "en"
    assert i18n.pick_language(None, {"CENTRALE_LANG": "en", "LANG": "it_IT"}) == "en"
    with pytest.raises(ValueError):
        i18n.pick_language("fr", {})


def test_italian_is_really_italian() -> None:
    i18n.set_language("it")
    try:
        assert i18n._("live") == "in diretta"
        assert i18n.ngettext("{n} camera", "{n} cameras", 3) == "{n} telecamere"
        i18n.set_language("en")
        assert i18n._("live") == "live"
    finally:
        i18n.set_language("en")
