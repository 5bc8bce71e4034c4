"""Who is signed in, for the header of every screen after sign-in (R10, R14)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from registry.i18n import _
from registry.session import Session


def site_banner(site_name: str, control_room: str) -> str:
    """The banner of the screens before and around a session: where this console is."""
    return f"[b]Centrale[/b] · {escape(site_name)} · {escape(control_room)}"


def session_label(session: Session | None) -> str:
    """Full name and role title, and the co-signing operator of a maintenance session."""
    if session is None:
        return _("Nobody signed in")
    text = f"[b]{escape(session.full_name)}[/b] · {escape(session.role.display_title)}"
    if session.cosigner:
        text += " · " + _("co-signed by {operator}").format(operator=escape(session.cosigner))
    return text


class SessionInfo(Static):
    """One line naming the person signed in; redrawn when the screen is shown again."""

    DEFAULT_CSS = """
    SessionInfo {
        width: auto;
        height: 1;
        padding: 0 1;
    }
    """

    def __init__(self, session: Session | None) -> None:
        super().__init__(session_label(session), classes="session-info")
