"""Copies of the access register for a period: CSV for spreadsheets, PDF for the binder.

Both are official Italian documents whatever the interface language, so their headings and
wording are fixed Italian text (R24; Perugia Allegato 1 §9 and its "foglio tipo"; Lumezzane
art. 11.6), not catalogue messages. Times are shown in the site's time zone.

- CSV: UTF-8 with a byte-order mark and ``;`` separators, which is what Italian Excel opens
  without an import dialog; one row per entry with every field. Cells that a spreadsheet would
  run as a formula (leading ``= + - @``) get a leading apostrophe (CSV injection).
- PDF: landscape A4 laid out like the "foglio tipo" (Nome e Cognome, Documento identità,
  Estremi autorizzazione, Ora di entrata, Ora di uscita, Dichiarazione, Firma e data) with the
  columns Lumezzane 11.6 adds (date and time, data accessed, purpose, observations); the
  comune, control room and period on every page, "Pagina n di m", the declaration's text and
  a signature line for the responsabile's periodic verification (Lum. 10ter.5).
  Names may hold letters outside Latin-1: the DejaVu TrueType font that setup installs
  (Debian ``fonts-dejavu-core``) is embedded; without it a core font is used and such letters
  are transliterated (never a download at run time).

Files are written next to the target and renamed into place, so a failed export leaves no
half file behind.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from registry.audit import AuditTrail
from registry.clock import Clock, utc_now
from registry.register import AccessRegister, RegisterFilter
from registry.register_model import RegisterEntry
from registry.roles import Permission
from registry.session import Session, require

#: TrueType fonts tried in order (Debian/Ubuntu, Fedora, Arch layouts).
FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/TTF"),
)
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
#: Audit action of a register export (the CLI's and the review screen's alike).
REGISTER_EXPORTED: Final = "register_exported"

TITLE: Final = "REGISTRO DEGLI ACCESSI ALLA VISIONE DELLE IMMAGINI VIDEOREGISTRATE"
DECLARATION: Final = (
    "Dichiaro di mantenere l'assoluta riservatezza su qualunque dato personale di cui possa "
    "essere venuto a conoscenza durante la permanenza nel locale, ai sensi della vigente "
    "normativa sulla privacy."
)

CSV_HEADINGS: Final = (
    "N.", "Data e ora", "Tipo di accesso", "Operatore", "Utente", "Ruolo", "Finalità",
    "Descrizione finalità", "Telecamere", "Periodo dal", "Periodo al",
    "Telecamere visionate", "Visionato dal", "Visionato al", "Nome e Cognome",
    "Documento identità", "Estremi autorizzazione", "Autorizzazione rilasciata da",
    "Destinatario", "Ora di entrata", "Ora di uscita", "Dichiarazione di riservatezza",
    "Osservazioni", "File esportato", "SHA-256", "Firma", "Verificato da", "Data verifica",
    "Esito verifica",
)  # fmt: skip

#: The PDF's columns and their widths in mm (277 mm between the margins of landscape A4).
PDF_COLUMNS: Final = (
    ("N.", 8), ("Data e ora", 17), ("Operatore", 24), ("Nome e Cognome", 25),
    ("Documento identità", 22), ("Estremi autorizzazione", 26), ("Finalità", 29),
    ("Dati consultati", 31), ("Ora di entrata", 12), ("Ora di uscita", 12),
    ("Dichiarazione", 21), ("Osservazioni", 24), ("Firma e data", 26),
)  # fmt: skip

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Letters that Unicode does not decompose into a base letter plus an accent.
_PLAIN = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h",
                        "ı": "i", "Œ": "OE", "œ": "oe", "—": "-", "–": "-", "’": "'",
                        "‘": "'", "“": '"', "”": '"', "…": "..."})


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _when(at: datetime | None, tz: ZoneInfo, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return at.astimezone(tz).strftime(fmt) if at is not None else ""


def _signature(e: RegisterEntry, tz: ZoneInfo) -> str:
    event = f" (audit n. {e.audit_id})" if e.audit_id is not None else ""
    return f"Firmato con password da {e.full_name} il {_when(e.at, tz)}{event}"


def _authorization(e: RegisterEntry) -> str:
    t = e.third_party
    if t is None:
        return ""
    return f"{t.authorization_ref}, rilasciata da {t.authorization_issuer}"


def csv_row(e: RegisterEntry, tz: ZoneInfo) -> list[str]:
    t, r = e.third_party, e.review
    return [
        str(e.id), _when(e.at, tz), e.kind.legal_title, e.full_name, e.username, e.role,
        e.purpose_title, e.purpose_text, ", ".join(e.cameras), _when(e.span_from, tz),
        _when(e.span_to, tz), ", ".join(e.all_cameras) if e.viewed_cameras else "",
        _when(e.viewed_from, tz), _when(e.viewed_to, tz), t.name if t else "",
        t.document if t else "", t.authorization_ref if t else "",
        t.authorization_issuer if t else "", e.recipient or "", _when(e.time_in, tz),
        _when(e.time_out, tz), "Sì" if e.confidentiality_declared else "No",
        e.observations, e.file_name or "", e.file_sha256 or "", _signature(e, tz),
        r.reviewer_name if r else "", _when(r.at, tz) if r else "", r.note if r else "",
    ]  # fmt: skip


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


@contextmanager
def _replacing(path: Path, mode: str, **kwargs: Any) -> Iterator[IO[Any]]:
    """A temporary file beside *path*, renamed over it only when writing succeeded."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_csv(entries: Iterable[RegisterEntry], path: Path, tz: ZoneInfo | str) -> int:
    """Write *entries* to *path* as Italian Excel reads CSV; return how many."""
    zone = _zone(tz)
    count = 0
    with _replacing(Path(path), "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(CSV_HEADINGS)
        for entry in entries:
            writer.writerow([_safe_cell(c) for c in csv_row(entry, zone)])
            count += 1
    return count


# ------------------------------------------------------------------------------------ PDF


def find_fonts(dirs: Sequence[Path] = FONT_DIRS) -> tuple[Path, Path] | None:
    """The regular and bold DejaVu Sans files, or ``None`` when they are not installed."""
    for folder in dirs:
        regular, bold = folder / REGULAR, folder / BOLD
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def transliterate(text: str) -> str:
    """Latin-1 text for a core PDF font: accents kept where Latin-1 has them."""
    out: list[str] = []
    for ch in text.translate(_PLAIN):
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                       if not unicodedata.combining(c) and ord(c) < 256)  # fmt: skip
        out.append(base or "?")
    return "".join(out)


def pdf_row(e: RegisterEntry, tz: ZoneInfo) -> list[str]:
    t, r = e.third_party, e.review
    purpose = f"{e.kind.legal_title}: {e.purpose_title}"
    if e.purpose_text:
        purpose += f" ({e.purpose_text})"
    data = f"{', '.join(e.all_cameras)}\ndal {_when(e.span_from, tz)}\nal {_when(e.span_to, tz)}"
    if e.recipient:
        data += f"\nDestinatario: {e.recipient}"
    if e.file_name:
        data += f"\nFile: {e.file_name}\nSHA-256: {e.file_sha256 or ''}"
    signed = f"{e.full_name}\n{_when(e.at, tz)}\n(firma con password"
    signed += f", audit n. {e.audit_id})" if e.audit_id is not None else ")"
    if r is not None:
        signed += f"\nVerificato da {r.reviewer_name} il {_when(r.at, tz, '%d/%m/%Y')}: {r.note}"
    return [
        str(e.id), _when(e.at, tz), f"{e.full_name}\n({e.username})",
        t.name if t else "-", t.document if t else "-", _authorization(e) or "-", purpose,
        data, _when(e.time_in, tz, "%H:%M") or "-", _when(e.time_out, tz, "%H:%M") or "-",
        ("Resa" if e.confidentiality_declared else "Non resa") if t else "-",
        e.observations or "-", signed,
    ]  # fmt: skip


class _RegisterPdf(FPDF):
    def __init__(self, heading: Sequence[str], footer_text: str,
                 clean: Callable[[str], str]) -> None:  # fmt: skip
        super().__init__(orientation="L", unit="mm", format="A4")
        self._heading = heading
        self._footer_text = footer_text
        self._clean = clean
        self.font_name = "Helvetica"

    def header(self) -> None:
        self.set_font(self.font_name, "B", 10)
        self.cell(0, 5, self._clean(self._heading[0]), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.font_name, "B", 9)
        self.cell(0, 5, TITLE, new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.font_name, "", 8)
        self.cell(0, 5, self._clean(self._heading[1]), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.font_name, "", 7)
        self.cell(0, 5, self._clean(self._footer_text), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Pagina {self.page_no()} di {{nb}}", align="R")


def export_pdf(
    entries: Iterable[RegisterEntry],
    path: Path,
    *,
    tz: ZoneInfo | str,
    comune: str,
    control_room: str,
    period: tuple[date, date],
    generated_at: datetime | None = None,
    font_dirs: Sequence[Path] = FONT_DIRS,
) -> int:
    """Write the printable register of *period* (inclusive days) to *path*; return rows."""
    zone = _zone(tz)
    fonts = find_fonts(font_dirs)
    clean: Callable[[str], str] = (lambda s: s) if fonts else transliterate
    made = _when(generated_at or utc_now(), zone)
    first, last = period
    heading = (
        f"Comune di {comune} - {control_room}",
        f"Periodo dal {first:%d/%m/%Y} al {last:%d/%m/%Y} (ora di {zone.key}); "
        f"estratto il {made}",
    )
    pdf = _RegisterPdf(heading, f"Registro degli accessi - Comune di {comune}", clean)
    if fonts:
        pdf.add_font("DejaVu", "", fonts[0])
        pdf.add_font("DejaVu", "B", fonts[1])
        pdf.font_name = "DejaVu"
    pdf.set_title(clean(f"{TITLE} - Comune di {comune}"))
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_page()
    pdf.set_font(pdf.font_name, "", 6.5)
    count = 0
    with pdf.table(
        col_widths=[w for _, w in PDF_COLUMNS], text_align="LEFT", v_align="TOP",
        line_height=3, headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
        repeat_headings=1, padding=0.8,
    ) as table:  # fmt: skip
        table.row([h for h, _ in PDF_COLUMNS])
        for entry in entries:
            table.row([clean(c) for c in pdf_row(entry, zone)])
            count += 1
        if count == 0:
            row = table.row()
            row.cell("Nessun accesso registrato nel periodo.", colspan=len(PDF_COLUMNS))
    if pdf.will_page_break(45):  # the closing notes and the signature stay together
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(pdf.font_name, "", 7.5)
    pdf.multi_cell(0, 3.5, f"Accessi registrati nel periodo: {count}.\nDichiarazione: «"
                   f"{DECLARATION}» La colonna «Dichiarazione» indica se il terzo l'ha resa.",
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(8)
    pdf.set_font(pdf.font_name, "", 9)
    pdf.cell(0, 6, "Verifica periodica degli accessi (Responsabile del trattamento)",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.cell(150, 6, "Firma ____________________________________________")
    pdf.cell(0, 6, "Data ____________________", new_x="LMARGIN", new_y="NEXT")
    with _replacing(Path(path), "wb") as handle:
        handle.write(bytes(pdf.output()))
    return count


def day_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[first 00:00, the day after last 00:00)`` in *tz*, for the store (any aware time)."""
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def export_period(
    register: AccessRegister,
    audit: AuditTrail,
    session: Session,
    *,
    first: date,
    last: date,
    fmt: str,
    out: Path,
    tz: ZoneInfo,
    comune: str,
    control_room: str,
    clock: Clock = utc_now,
) -> int:
    """The whole register of ``first..last`` (every person: it is the period's official copy)
    into *out* as ``csv`` or ``pdf``; returns the entries written.

    One place for the CLI and the review screen, so that both refuse, write and audit the
    same way: the refusal is audited by :func:`require`, the export as ``register_exported``
    with the file's SHA-256 (the copy handed out can be matched to the trail later).
    """
    require(session, Permission.REVIEW_REGISTER, audit, "register")
    start, end = day_range(first, last, tz)
    entries = register.iter_entries(session, RegisterFilter(period_from=start, period_to=end))
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        count = export_csv(entries, out, tz)
    else:
        count = export_pdf(entries, out, tz=tz, comune=comune, control_room=control_room,
                           period=(first, last), generated_at=clock())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    audit.append(session.username, REGISTER_EXPORTED, out.name, {
        "format": fmt, "from": first.isoformat(), "to": last.isoformat(), "entries": count,
        "file": str(out.absolute()), "sha256": digest,
    })  # fmt: skip
    return count
