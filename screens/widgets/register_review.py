"""What the review screen shows and does, apart from drawing: the chain's status line, an
entry's detail, a verification that tells a race from a break, and the audited export.

Kept out of :mod:`screens.review` so that the screen module stays about the screen.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from rich.markup import escape

from registry.audit import AuditEntry, VerifyResult
from registry.i18n import _, ngettext
from registry.register import RegisterEntry
from registry.register_export import REGISTER_EXPORTED, export_period
from registry.session import Session
from screens.register_form import RegisterContext, format_local

__all__ = ["AROUND_MINUTES", "REGISTER_EXPORTED", "chain_text", "entry_detail",
           "export_register_period"]

#: minutes either side of the entry whose audit events the detail shows
AROUND_MINUTES = 30


def chain_text(result: VerifyResult | None) -> str:
    """The one line at the top of the review: intact, broken (where, why), or checking."""
    if result is None:
        return _("Verifying the audit trail…")
    if result.ok:
        return ngettext("Audit trail intact: {n} entry verified",
                        "Audit trail intact: {n} entries verified",
                        result.checked).format(n=result.checked)
    if result.first_bad_id is None:
        return _("WARNING: audit trail broken ({reason})").format(reason=result.reason)
    return _("WARNING: chain broken at entry {id} ({reason})").format(
        id=result.first_bad_id, reason=result.reason)


def entry_detail(entry: RegisterEntry, events: list[AuditEntry], zone: Any) -> str:
    """Every field of *entry* and the audit events around it, as console markup."""
    e = entry

    def line(label: str, value: str) -> str:
        return f"[b]{escape(label)}:[/b] {escape(value)}" if value else ""

    third = e.third_party
    fields = [
        "[b]" + _("Entry {id}").format(id=e.id) + "[/b] · " + escape(e.kind.display_title),
        line(_("Signed"), format_local(e.at, zone)),
        line(_("Operator"), f"{e.full_name} ({e.username}, {e.role})"),
        line(_("Purpose"), e.purpose_title + (f": {e.purpose_text}" if e.purpose_text
                                              else "")),
        line(_("Cameras"), ", ".join(e.cameras)),
        line(_("Footage"), f"{format_local(e.span_from, zone)} – "
                           f"{format_local(e.span_to, zone)}"),
        line(_("Viewed"), (", ".join(e.viewed_cameras) + " · " + format_local(e.viewed_from,
             zone) + " – " + format_local(e.viewed_to, zone)) if e.viewed_cameras else ""),
        line(_("Third party"), f"{third.name} · {third.document}" if third else ""),
        line(_("Authorization"), f"{third.authorization_ref} · {third.authorization_issuer}"
             if third else ""),
        line(_("Declaration"), (_("made") if e.confidentiality_declared else _("not made"))
             if third else ""),
        line(_("Copy delivered to"), e.recipient or ""),
        line(_("Time out"), format_local(e.time_out, zone) if e.time_out else
             (_("still in the room") if e.is_open_visit else "")),
        line(_("Observations"), e.observations),
        line(_("Exported file"), f"{e.file_name} (SHA-256 {e.file_sha256})"
             if e.file_name else ""),
    ]  # fmt: skip
    lines = [x for x in fields if x]
    if e.review is not None:
        lines.append(line(_("Reviewed"), f"{e.review.reviewer_name} · "
                          f"{format_local(e.review.at, zone)} · {e.review.note}"))
    else:
        lines.append("[b]" + _("Reviewed") + ":[/b] [i]" + _("not yet") + "[/i]")
    lines.append("")
    lines.append("[b]" + _("Audit events within {n} minutes").format(n=AROUND_MINUTES) + "[/b]")
    if not events:
        lines.append(_("none"))
    for ev in events:
        text = escape(f"{format_local(ev.at, zone, '%d/%m %H:%M:%S')} #{ev.id} {ev.actor} "
                      f"{ev.action} {ev.target}".rstrip())
        lines.append(f"[reverse]▶ {text}[/reverse]" if ev.id == e.audit_id else f"  {text}")
    return "\n".join(lines)


def export_register_period(context: RegisterContext, session: Session, fmt: str,
                           first: date, last: date, path: Path) -> int:
    """The whole register of ``first..last`` (every person: it is the period's official
    copy, whatever the screen's other filters) into *path*; audited like the CLI's export."""
    console = context.console
    return export_period(context.register, context.audit, session, first=first, last=last,
                         fmt=fmt, out=path, tz=context.zone, comune=console.site_name,
                         control_room=console.control_room, clock=context.clock)
