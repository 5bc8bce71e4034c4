"""Approved presets and masks in a real SQLite file: permissions, audit, export and import."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import IpycamPeer
from test_ptz_support import (
    T0,
    audit_trail,
    control_for,
    open_store,
    operator,
    supervisor,
    watcher,
)

from cameras.masks import NO_MASKS, MaskError, MaskPolygon, MaskSet
from console.cli import UsageError
from console.cli_ptz import (
    MASKS_EXPORTED,
    add_commands,
    check_camera,
    export_masks_file,
    format_presets,
    import_masks_file,
    list_presets,
)
from ptz.control import PtzPosition
from ptz.presets import MASKS_FORMAT, PresetBook, PresetError
from registry.audit import AuditTrail
from registry.roles import PermissionDenied
from registry.store import Store
from registry.store_ptz import PtzStore

WINDOW = MaskSet((MaskPolygon.rectangle(0.6, 0.1, 0.8, 0.4),))
TWO = MaskSet((MaskPolygon.rectangle(0, 0, 0.2, 0.2), MaskPolygon.of([(0.5, 0.5), (0.9, 0.5),
                                                                       (0.7, 0.9)])))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


@pytest.fixture
def audit(store: Store) -> AuditTrail:
    return audit_trail(store)


@pytest.fixture
def book(store: Store, audit: AuditTrail) -> PresetBook:
    return PresetBook(PtzStore(store), audit, clock=lambda: T0)


def _add(book: PresetBook, name: str, pos: tuple[float, float, float] = (0.1, 0.2, 0.3)) -> int:
    return book.store.add_preset("dome", name, f"tok-{name}", pos, "rossi", T0)


def test_schema_5_has_the_ptz_tables(store: Store) -> None:
    assert store.schema_version >= 5
    names = {r[0] for r in store.fetch_all("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"ptz_preset", "fixed_mask", "mask_state", "ptz_lease", "ptz_opening", "ptz_tour",
            "ptz_tour_stop"} <= names


def test_operators_see_only_approved_presets(book: PresetBook, audit: AuditTrail) -> None:
    nord, sud = _add(book, "nord"), _add(book, "sud", (0.5, 0.5, 0.5))
    book.approve(supervisor(), nord)
    assert [p.name for p in book.visible_to(operator(), "dome")] == ["nord"]
    assert [p.name for p in book.visible_to(supervisor(), "dome")] == ["nord", "sud"]
    with pytest.raises(PermissionDenied):
        book.approve(operator(), sud)
    with pytest.raises(PermissionDenied):
        book.all(operator(), "dome")
    book.remove(supervisor(), nord)
    assert book.approved("dome") == []
    with pytest.raises(PresetError):
        book.get(nord)
    acts = [(e.actor, e.action) for e in audit.entries()]
    assert ("rossi", "preset.approved") in acts and ("rossi", "preset.removed") in acts
    assert ("bianchi", "permission_refused") in acts
    approved = next(e for e in audit.entries() if e.action == "preset.approved")
    assert approved.details == {"preset": "nord", "token": "tok-nord"} and approved.target == "dome"


def test_masks_changes_need_define_presets_and_are_audited(book: PresetBook,
                                                          audit: AuditTrail) -> None:
    nord = _add(book, "nord")
    assert book.set_masks(supervisor(), nord, WINDOW).masks == WINDOW
    book.set_fixed_masks(supervisor(), "fissa", TWO)
    assert book.fixed_masks("fissa") == TWO and book.fixed_masks("other") == NO_MASKS
    assert book.all_fixed_masks() == {"fissa": TWO}
    with pytest.raises(PermissionDenied):
        book.set_masks(operator(), nord, NO_MASKS)
    with pytest.raises(PermissionDenied):
        book.set_fixed_masks(watcher(), "fissa", NO_MASKS)
    assert book.get(nord).masks == WINDOW
    changed = [e for e in audit.entries() if e.action == "masks.changed"]
    assert [e.target for e in changed] == ["dome", "fissa"]
    assert MaskSet.loads(changed[0].details["masks"]) == WINDOW


def test_changes_reach_the_listener(book: PresetBook) -> None:
    seen: list[str] = []
    book.on_change = seen.append
    nord = _add(book, "nord")
    book.approve(supervisor(), nord)
    book.set_masks(supervisor(), nord, WINDOW)
    book.set_fixed_masks(supervisor(), "fissa", TWO)
    assert seen == ["dome", "dome", "fissa"]


@pytest.mark.peers
async def test_define_on_the_real_camera_keeps_its_token_and_position(
    ipycam_window: IpycamPeer, book: PresetBook, audit: AuditTrail
) -> None:
    ctl = control_for(ipycam_window, audit)
    try:
        target = PtzPosition(-0.3, 0.25, 0.4)
        await ctl.move_to(supervisor(), target)
        with pytest.raises(PermissionDenied):
            await book.define(operator(), ctl, "scuola")
        preset = await book.define(supervisor(), ctl, "scuola")
        assert not preset.approved and preset.token.startswith("preset_")
        assert preset.position.near(target)
        assert book.approved(ctl.camera_id) == []
        with pytest.raises(PresetError, match="already has a preset named"):
            await book.define(supervisor(), ctl, "scuola")
        approved = book.approve(supervisor(), preset.id)
        assert approved.approved_by == "rossi"
        device = {p.token for p in await ctl.presets()}
        assert preset.token in device
        defined = next(e for e in audit.entries() if e.action == "preset.defined")
        assert defined.details["token"] == preset.token and defined.actor == "rossi"
    finally:
        await ctl.home(supervisor())
        await ctl.close()


# ------------------------------------------------------------------ export / import


def test_export_then_import_round_trip(tmp_path: Path, store: Store, book: PresetBook,
                                       audit: AuditTrail) -> None:
    nord, sud = _add(book, "nord"), _add(book, "sud")
    book.set_masks(supervisor(), nord, WINDOW)
    book.set_fixed_masks(supervisor(), "dome", TWO)
    out = tmp_path / "dome.json"
    data = export_masks_file(store, audit, operator(), "dome", out)
    on_disk = json.loads(out.read_text())
    assert on_disk == data and on_disk["format"] == MASKS_FORMAT
    assert set(on_disk["presets"]) == {"nord", "sud"}
    assert [e.action for e in audit.entries()][-1] == MASKS_EXPORTED
    # swap the sets in the file and import it back
    on_disk["presets"]["nord"], on_disk["presets"]["sud"] = [], WINDOW.to_json()
    out.write_text(json.dumps(on_disk))
    counts = import_masks_file(store, audit, supervisor(), "dome", out)
    assert counts == {"": 2, "nord": 0, "sud": 1}
    assert book.get(nord).masks == NO_MASKS and book.get(sud).masks == WINDOW
    imported = next(e for e in audit.entries() if e.action == "masks.imported")
    assert imported.actor == "rossi" and json.loads(imported.details["views"]) == counts


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d["presets"].__setitem__("sud", [[[0, 0], [1, 1]]]), r"presets\.sud\[0\]"),
        (lambda d: d["presets"].__setitem__("ovest", []), "presets.ovest: camera dome has no"),
        (lambda d: d.__setitem__("camera", "altra"), "camera: the file is for 'altra'"),
        (lambda d: d.__setitem__("format", "x/9"), "format: expected centrale-masks/1"),
        (lambda d: d.__setitem__("colour", 1), "unknown key colour"),
        (lambda d: d.__setitem__("fixed", [[[0, 0], [2, 0], [0, 1]]]), r"fixed\[0\]: .*outside"),
        (lambda d: d.__setitem__("presets", []), "presets: expected an object"),
    ],
)
def test_a_bad_file_is_refused_whole_and_names_the_key(
    tmp_path: Path, store: Store, book: PresetBook, audit: AuditTrail, change, fragment: str  # type: ignore[no-untyped-def]
) -> None:
    nord = _add(book, "nord")
    _add(book, "sud")
    book.set_masks(supervisor(), nord, WINDOW)
    data = {"format": MASKS_FORMAT, "camera": "dome", "fixed": TWO.to_json(),
            "presets": {"nord": [], "sud": WINDOW.to_json()}}
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    before = len(audit.entries())
    with pytest.raises(MaskError, match=fragment):
        import_masks_file(store, audit, supervisor(), "dome", path)
    assert book.get(nord).masks == WINDOW  # nothing changed
    assert book.fixed_masks("dome") == NO_MASKS
    assert len(audit.entries()) == before


def test_import_needs_define_presets_and_valid_json(tmp_path: Path, store: Store,
                                                   audit: AuditTrail) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": MASKS_FORMAT, "camera": "dome", "fixed": []}))
    with pytest.raises(PermissionDenied):
        import_masks_file(store, audit, operator(), "dome", path)
    path.write_text('{"format": ')
    with pytest.raises(MaskError, match=r"m.json: not valid JSON \(line 1\)"):
        import_masks_file(store, audit, supervisor(), "dome", path)
    with pytest.raises(UsageError):
        import_masks_file(store, audit, supervisor(), "dome", tmp_path / "missing.json")


def test_cli_parser_and_listing(book: PresetBook, store: Store, audit: AuditTrail) -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    add_commands(commands, argparse.ArgumentParser(add_help=False))
    args = parser.parse_args(["masks", "import", "dome", "f.json", "--as", "rossi"])
    assert (args.camera_id, args.file, args.as_user) == ("dome", "f.json", "rossi")
    args = parser.parse_args(["presets", "list", "dome", "--as", "bianchi", "--password-stdin"])
    assert args.password_stdin and args.handler.__name__ == "_presets_list"
    nord = _add(book, "nord")
    _add(book, "sud")
    book.approve(supervisor(), nord)
    book.set_masks(supervisor(), nord, TWO)
    lines = format_presets(list_presets(store, audit, supervisor(), "dome"))
    assert lines[0].startswith("nord\tapproved\t+0.100 +0.200 0.300\t2 masks")
    assert lines[1].startswith("sud\tpending approval")
    assert [x.split("\t")[0] for x in format_presets(list_presets(store, audit, operator(),
                                                                  "dome"))] == ["nord"]
    check_camera("dome", None)
    with pytest.raises(UsageError, match="not a camera id"):
        check_camera("Dome!", None)
