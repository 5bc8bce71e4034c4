"""One typed error hierarchy for the whole project.

Every error carries a short ``title`` (what an operator reads first) and a ``message``
(what to do about it). Library exceptions are translated into these at the package
boundary, so that callers never see zeep, PyAV or sqlite errors.
"""

from __future__ import annotations

from registry.i18n import N_


class CentraleError(Exception):
    """Base of every error Centrale raises on purpose."""

    #: English message id; shown translated through :attr:`display_title`.
    title: str = N_("Error")

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message

    @property
    def display_title(self) -> str:
        from registry.i18n import _

        return _(self.title)


class ConfigError(CentraleError):
    """The configuration cannot be used as it is."""

    title = N_("Invalid configuration")
