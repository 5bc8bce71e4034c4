"""Register copies read back: the CSV with the csv module, the PDF's text with pypdf."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from register_support import PASSWORD, T0, VISITOR, World, register_world_fixture, request  # noqa: F401

from registry.register import AccessKind, RegisterEntry
from registry.register_export import (
    CSV_HEADINGS,
    PDF_COLUMNS,
    TITLE,
    export_csv,
    export_pdf,
    find_fonts,
    transliterate,
)
from registry.roles import PermissionDenied

ROMANIAN = replace(VISITOR, name="Dragoş Ştefănescu", document="Paşaport RO 051234")
PERIOD = (date(2026, 3, 1), date(2026, 3, 2))


@pytest.fixture
def entries(world: World) -> list[RegisterEntry]:
    op, sup = world.sessions["a.bianchi"], world.sessions["s.neri"]
    visit = world.register.open_entry(
        op, request(AccessKind.VISIT, third_party=ROMANIAN,
                    observations="=SOMMA(A1:A9) visionate 2 telecamere"), PASSWORD)
    world.clock.advance(timedelta(minutes=25))
    world.register.close_visit(op, visit.id)
    export = world.register.open_entry(op, request(AccessKind.EXPORT), PASSWORD)
    world.register.attach_file(export.id, "2026-03-02_0300-0400_via-roma_cam-01.mp4",
                               "ab" * 32)
    playback = world.register.open_entry(
        world.sessions["l.verdi"], request(purpose="other", purpose_text="Esposto n. 7"),
        PASSWORD)
    world.register.mark_reviewed(sup, playback.id, "Motivazione verificata")
    return world.register.entries(sup, limit=None)[::-1]  # oldest first, as printed


def pdf_text(path: Path) -> tuple[PdfReader, str]:
    reader = PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, " ".join(text.split())


# ------------------------------------------------------------------------------ CSV


def test_csv_reads_back_in_italian_excel_form(entries: list[RegisterEntry], tmp_path: Path
                                              ) -> None:  # fmt: skip
    out = tmp_path / "registro.csv"
    assert export_csv(entries, out, "Europe/Rome") == 3
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel looks for
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert tuple(rows[0]) == CSV_HEADINGS
    assert "Nome e Cognome" in rows[0] and "Documento identità" in rows[0]
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    visit, export, playback = body
    assert [int(r["N."]) for r in body] == [e.id for e in entries]
    # 08:00 UTC on 2 March is 09:00 in Rome (CET).
    assert visit["Data e ora"] == "02/03/2026 09:00"
    assert visit["Ora di entrata"] == "02/03/2026 09:00"
    assert visit["Ora di uscita"] == "02/03/2026 09:25"
    assert visit["Nome e Cognome"] == "Dragoş Ştefănescu"
    assert visit["Documento identità"] == "Paşaport RO 051234"
    assert visit["Estremi autorizzazione"] == "prot. 1234/2026"
    assert visit["Autorizzazione rilasciata da"] == "Responsabile del trattamento"
    assert visit["Dichiarazione di riservatezza"] == "Sì"
    assert visit["Tipo di accesso"] == "Visione da parte di terzi"
    assert visit["Telecamere"] == "cam-01, cam-02"
    assert visit["Periodo dal"] == "02/03/2026 04:00"
    # A formula-looking cell is neutralised, its text kept.
    assert visit["Osservazioni"] == "'=SOMMA(A1:A9) visionate 2 telecamere"
    assert export["Destinatario"] == "Procura della Repubblica di Brescia"
    assert export["SHA-256"] == "ab" * 32
    assert export["Firma"].startswith("Firmato con password da Anna Bianchi il 02/03/2026")
    assert playback["Finalità"] == "Altro"
    assert playback["Descrizione finalità"] == "Esposto n. 7"
    assert playback["Verificato da"] == "Sara Neri"
    assert playback["Esito verifica"] == "Motivazione verificata"


def test_csv_in_another_time_zone(entries: list[RegisterEntry], tmp_path: Path) -> None:
    out = tmp_path / "registro.csv"
    export_csv(entries, out, "UTC")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[1][1] == "02/03/2026 08:00"


def test_a_failed_export_keeps_the_previous_file(entries: list[RegisterEntry], tmp_path: Path
                                                 ) -> None:  # fmt: skip
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "registro.csv"
    out.write_text("previous copy", encoding="utf-8")

    def broken() -> Iterator[RegisterEntry]:
        yield entries[0]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        export_csv(broken(), out, "Europe/Rome")
    assert out.read_text(encoding="utf-8") == "previous copy"
    assert [p.name for p in out.parent.iterdir()] == ["registro.csv"]


# ------------------------------------------------------------------------------ PDF


def test_pdf_foglio_tipo_with_a_unicode_font(entries: list[RegisterEntry], tmp_path: Path
                                             ) -> None:  # fmt: skip
    assert find_fonts() is not None, "setup installs fonts-dejavu-core"
    out = tmp_path / "registro.pdf"
    assert export_pdf(entries, out, tz="Europe/Rome", comune="Lumezzane",
                      control_room="Centrale operativa PL", period=PERIOD,
                      generated_at=T0 + timedelta(days=1)) == 3
    reader, text = pdf_text(out)
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # landscape
    assert round(float(box.width) / 72 * 25.4) == 297  # A4
    assert TITLE in text
    assert "Comune di Lumezzane - Centrale operativa PL" in text
    assert "Periodo dal 01/03/2026 al 02/03/2026" in text
    assert "estratto il 03/03/2026 09:00" in text
    for heading, _width in PDF_COLUMNS:
        assert heading in text
    assert "Dragoş Ştefănescu" in text  # letters outside Latin-1, through DejaVu
    assert "Paşaport RO 051234" in text
    assert "Giovanni" not in text  # the visitor named here is the Romanian one
    assert "Procura della Repubblica di Brescia" in text
    assert "Motivazione verificata" in text
    assert "Resa" in text
    assert f"Pagina 1 di {len(reader.pages)}" in text
    assert "Accessi registrati nel periodo: 3." in text
    assert "Dichiaro di mantenere l'assoluta riservatezza" in text
    assert "Firma ____" in text
    fonts = str(reader.pages[0]["/Resources"]["/Font"].get_object())
    assert "DejaVu" in str([f.get_object()["/BaseFont"] for f in
                            reader.pages[0]["/Resources"]["/Font"].get_object().values()]), fonts


def test_pdf_many_entries_span_pages_with_headings_repeated(
    world: World, tmp_path: Path
) -> None:
    op = world.sessions["a.bianchi"]
    for n in range(45):
        world.clock.advance(timedelta(minutes=3))
        world.register.open_entry(op, request(AccessKind.VISIT, observations=f"Visita {n}",
                                              span_to=world.clock.now - timedelta(hours=1)),
                                  PASSWORD)
    entries = world.register.entries(op, limit=None)[::-1]
    out = tmp_path / "registro.pdf"
    export_pdf(entries, out, tz="Europe/Rome", comune="Perugia", control_room="Centrale",
               period=PERIOD)
    reader = PdfReader(out)
    pages = len(reader.pages)
    assert pages >= 3
    for number, page in enumerate(reader.pages, start=1):
        text = " ".join(page.extract_text().split())
        assert f"Pagina {number} di {pages}" in text
        assert "Comune di Perugia" in text and TITLE in text
        if number < pages:
            assert "Estremi autorizzazione" in text  # headings on every page of the table
    all_text = pdf_text(out)[1]
    for n in range(45):
        assert f"Visita {n} " in all_text + " "


def test_pdf_without_the_font_transliterates(entries: list[RegisterEntry], tmp_path: Path
                                            ) -> None:  # fmt: skip
    out = tmp_path / "registro.pdf"
    export_pdf(entries, out, tz="Europe/Rome", comune="Città di Castello",
               control_room="Centrale", period=PERIOD, font_dirs=())
    reader, text = pdf_text(out)
    assert "Dragos Stefanescu" in text
    assert "Comune di Città di Castello" in text  # Latin-1 letters kept
    base = [str(f.get_object()["/BaseFont"])
            for f in reader.pages[0]["/Resources"]["/Font"].get_object().values()]
    assert all("Helvetica" in b for b in base)


def test_pdf_of_an_empty_period(tmp_path: Path) -> None:
    out = tmp_path / "registro.pdf"
    assert export_pdf([], out, tz="Europe/Rome", comune="Lumezzane", control_room="Centrale",
                      period=PERIOD) == 0
    text = pdf_text(out)[1]
    assert "Nessun accesso registrato nel periodo." in text
    assert "Accessi registrati nel periodo: 0." in text


def test_transliterate() -> None:
    assert transliterate("Łukasz Żółć — Dragoş") == "Lukasz Zólc - Dragos"  # ó is Latin-1
    assert transliterate("perché è già così") == "perché è già così"


# ------------------------------------------------------------------------------ CLI


def test_export_register_writes_and_audits(world: World, tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from console.cli_register import REGISTER_EXPORTED, export_register

    op = world.sessions["a.bianchi"]
    # 22:30 UTC on 1 March is 23:30 in Rome (1 March); 23:30 UTC is 00:30 on 2 March.
    world.clock.now = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    late = world.register.open_entry(op, request(span_from=world.clock.now - timedelta(hours=2),
                                                 span_to=world.clock.now - timedelta(hours=1),
                                                 observations="primo marzo"), PASSWORD)
    world.clock.now = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    early = world.register.open_entry(op, request(span_from=world.clock.now - timedelta(hours=2),
                                                  span_to=world.clock.now - timedelta(hours=1),
                                                  observations="due marzo"), PASSWORD)
    world.clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    out = tmp_path / "marzo.csv"
    rome = ZoneInfo("Europe/Rome")
    count = export_register(world.store, world.audit, world.sessions["s.neri"],
                            first=date(2026, 3, 2), last=date(2026, 3, 2), fmt="csv", out=out,
                            tz=rome, comune="Lumezzane", control_room="Centrale",
                            clock=world.clock)
    assert count == 1
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert [r[0] for r in rows[1:]] == [str(early.id)]
    event = world.audit.entries(action=REGISTER_EXPORTED)[-1]
    assert event.actor == "s.neri"
    assert event.details["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (event.details["from"], event.details["entries"]) == ("2026-03-02", 1)
    # Both days, as PDF: both entries, oldest first.
    pdf = tmp_path / "marzo.pdf"
    assert export_register(world.store, world.audit, world.sessions["s.neri"],
                           first=date(2026, 3, 1), last=date(2026, 3, 2), fmt="pdf", out=pdf,
                           tz=rome, comune="Lumezzane", control_room="Centrale",
                           clock=world.clock) == 2
    text = pdf_text(pdf)[1]
    assert text.index("primo marzo") < text.index("due marzo")
    assert late.id < early.id
    # Without review_register: refused, audited, no file.
    refused = tmp_path / "no.csv"
    with pytest.raises(PermissionDenied):
        export_register(world.store, world.audit, op, first=date(2026, 3, 1),
                        last=date(2026, 3, 2), fmt="csv", out=refused, tz=rome,
                        comune="Lumezzane", control_room="Centrale")
    assert not refused.exists()
    assert world.audit.entries()[-1].action == "permission_refused"


@pytest.mark.parametrize(("args", "option"), [
    (("2026-3-1", "2026-03-31", "csv"), "--from"),
    (("20260301", "2026-03-31", "csv"), "--from"),
    (("2026-03-01", "2026-02-30", "csv"), "--to"),
    (("2026-03-01", "ieri", "csv"), "--to"),
    (("2026-03-31", "2026-03-01", "csv"), "--to"),
    (("2026-03-01", "2026-03-31", "xls"), "--format"),
])  # fmt: skip
def test_bad_arguments_name_the_option(tmp_path: Path, args: tuple[str, str, str],
                                       option: str) -> None:  # fmt: skip
    from console.cli import UsageError
    from console.cli_register import check_arguments

    with pytest.raises(UsageError) as caught:
        check_arguments(*args, str(tmp_path / "out.csv"))
    assert option in caught.value.message


def test_bad_output_paths(tmp_path: Path) -> None:
    from console.cli import UsageError
    from console.cli_register import check_arguments

    with pytest.raises(UsageError, match=r"--out.*directory"):
        check_arguments("2026-03-01", "2026-03-31", "csv", str(tmp_path))
    with pytest.raises(UsageError, match=r"--out.*does not exist"):
        check_arguments("2026-03-01", "2026-03-31", "pdf", str(tmp_path / "no" / "r.pdf"))
    first, last, fmt, path = check_arguments(" 2026-03-01", "2026-03-31", "PDF",
                                             str(tmp_path / "r.pdf"))
    assert (first, last, fmt, path) == (date(2026, 3, 1), date(2026, 3, 31), "pdf",
                                        tmp_path / "r.pdf")


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A database with the demo accounts and an entry by the senior operator."""
    from console import services as services_module
    from registry.passwords import HashParameters
    from registry.register import AccessRegister

    monkeypatch.setattr(services_module, "HASHING",
                        HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1))
    monkeypatch.setenv("CENTRALE_AUDIT_KEY", "5a" * 32)
    (tmp_path / "keys").mkdir()
    monkeypatch.setenv("CENTRALE_KEY_DIR", str(tmp_path / "keys"))
    data = tmp_path / "data"
    with services_module.open_services(data, None) as services:
        accounts = {role: (user, password)
                    for user, password, role in services.accounts.create_demo_accounts()}
        user, password = accounts["operatore_esperto"]
        session = services.accounts.sign_in(user, password).session
        assert session is not None
        register = AccessRegister(services.store, services.audit,
                                  services.accounts.verify_signature)
        now = datetime.now(UTC)
        register.open_entry(session, request(
            AccessKind.VISIT, third_party=ROMANIAN, span_from=now - timedelta(hours=3),
            span_to=now - timedelta(hours=2)), password)
        services.accounts.sign_out(session)
    config = tmp_path / "config.toml"
    config.write_text('[site]\ncomune = "Lumezzane"\ncontrol_room = "Centrale PL"\n',
                      encoding="utf-8")
    sup_user, sup_password = accounts["supervisore"]
    op_user, op_password = accounts["operatore_esperto"]
    return {"data": str(data), "config": str(config), "sup": sup_user,
            "sup_password": sup_password, "op": op_user, "op_password": op_password,
            "today": datetime.now(UTC).date().isoformat()}


def run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str = "") -> int:
    import io

    from console.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(args)


def test_cli_register_export_end_to_end(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "registro.pdf"
    day = cli_env["today"]
    common = ["--data-dir", cli_env["data"], "--config", cli_env["config"], "--lang", "en"]
    code = run_cli(monkeypatch, ["register", "export", *common, "--from", "2020-01-01",
                                 "--to", day, "--format", "pdf", "--out", str(out),
                                 "--as", cli_env["sup"], "--password-stdin"],
                   cli_env["sup_password"] + "\n")
    assert code == 0, capsys.readouterr().err
    assert "1 register entries" in capsys.readouterr().out
    text = pdf_text(out)[1]
    assert "Comune di Lumezzane - Centrale PL" in text
    assert "Dragoş Ştefănescu" in text
    # The operator may not export the register: refused (exit 1), nothing written.
    refused = tmp_path / "op.csv"
    code = run_cli(monkeypatch, ["register", "export", *common, "--from", day, "--to", day,
                                 "--format", "csv", "--out", str(refused),
                                 "--as", cli_env["op"], "--password-stdin"],
                   cli_env["op_password"] + "\n")
    assert code == 1 and not refused.exists()
    assert "review the access register" in capsys.readouterr().err
    # A wrong password: exit 1, nothing written.
    code = run_cli(monkeypatch, ["register", "export", *common, "--from", day, "--to", day,
                                 "--format", "csv", "--out", str(refused),
                                 "--as", cli_env["sup"], "--password-stdin"], "wrong\n")
    assert code == 1 and not refused.exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"--from": "01/03/2026"}, "--from"),
    ({"--format": "xlsx"}, "--format"),
    ({"--out": "/nonexistent-folder/r.csv"}, "--out"),
])  # fmt: skip
def test_cli_bad_arguments_exit_2(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], change: dict[str, str], message: str,
) -> None:
    options = {"--from": "2026-03-01", "--to": "2026-03-31", "--format": "csv",
               "--out": str(tmp_path / "r.csv")} | change
    args = ["register", "export", "--data-dir", cli_env["data"], "--config",
            cli_env["config"], "--lang", "en", "--as", cli_env["sup"], "--password-stdin"]
    for key, value in options.items():
        args += [key, value]
    assert run_cli(monkeypatch, args, "") == 2  # before any password is read
    assert message in capsys.readouterr().err
