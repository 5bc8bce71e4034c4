"""The home screen of a session that may not watch the cameras: no footage at all.

A technician (maintenance only, R14) and the system administrator (people and settings, no
footage: Lum. 11.2, 11.7) sign in to this screen instead of the live grid. It says who is
signed in and, for a technician, who co-signed, and what can be done from here.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from registry.i18n import _
from registry.roles import Permission
from registry.session import Session
from screens.bindings import translate_bindings
from screens.context import ConsoleContext
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo, site_banner


def maintenance_text(session: Session) -> str:
    """What the person can do here, by role."""
    lines: list[str] = []
    if session.role.maintenance_only:
        lines.append(_("Maintenance session of {name} ({user}), co-signed by the operator "
                       "present {operator}.").format(
            name=escape(session.full_name), user=escape(session.username),
            operator=escape(session.cosigner or "—")))
        lines.append(_("A maintenance session shows no camera picture and no recording."))
        lines.append(_("Check the configuration with: centrale check-config"))
    else:
        lines.append(_("{name} ({user}) is signed in as {role}.").format(
            name=escape(session.full_name), user=escape(session.username),
            role=escape(session.role.display_title)))
        lines.append(_("This role does not include watching the cameras: no picture is "
                       "shown here."))
    if session.allows(Permission.MANAGE_USERS):
        lines.append(_("Manage people with: centrale users list | add | disable | enable | "
                       "passwd"))
    lines.append(_("Every sign-in and sign-out is written to the audit trail."))
    return "\n\n".join(lines)


class MaintenanceScreen(Screen[None]):
    CSS_PATH = "session.tcss"
    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self, context: ConsoleContext, session: Session) -> None:
        super().__init__(classes="session-screen")
        translate_bindings(self)
        self.context = context
        self.session = session

    def compose(self) -> ComposeResult:
        with Horizontal(classes="banner-bar"):
            yield Static(site_banner(self.context.site_name, self.context.control_room),
                         classes="banner")
            yield SessionInfo(self.session)
        with Center(), Vertical(id="maintenance-box", classes="form-box maintenance-box"):
            title = (_("Maintenance") if self.session.role.maintenance_only
                     else _("No camera for this role"))
            yield Static(title, classes="form-title")
            yield Static(maintenance_text(self.session), id="maintenance-text")
        yield KeyFooter()
