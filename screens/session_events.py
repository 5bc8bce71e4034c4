"""Messages the sign-in, password, co-sign and lock screens send up to the App.

Screens never reach into the App (console is above screens in the layering): they post one of
these, and the App changes the session and the screen stack.
"""

from __future__ import annotations

from textual.message import Message

from registry.session import Session


class SessionStarted(Message):
    """Somebody signed in (after a password change or a co-signature, when needed)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


class SessionUnlocked(Message):
    """The person signed in typed their password again at the lock screen."""


class SessionOver(Message):
    """The session must end: ``reason`` is what the trail records ("switch_user", ...).

    ``already_closed`` is True when the domain closed it itself (a lock-out at the lock screen);
    ``notice`` is shown on the sign-in screen that follows.
    """

    def __init__(self, reason: str, *, already_closed: bool = False, notice: str = "") -> None:
        super().__init__()
        self.reason = reason
        self.already_closed = already_closed
        self.notice = notice
