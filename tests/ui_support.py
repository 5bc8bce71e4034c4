"""Textual test set-up that several screen test modules share (tests/ is not a package:
import it as ``from ui_support import ...``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.app import App
from textual.widgets import DataTable

CtxT = TypeVar("CtxT")


class OpenerApp(App[None], Generic[CtxT]):
    """A bare app that, once mounted, opens the screen under test with ``opener(app, ctx)``.

    Each module subclasses it under its own name (the name is the app's title, which the
    snapshots show).
    """

    def __init__(self, ctx: CtxT, opener: Callable[[App[Any], CtxT], object]) -> None:
        super().__init__()
        self.ctx = ctx
        self.opener = opener

    def on_mount(self) -> None:
        self.opener(self, self.ctx)


def table_rows(app: App[Any], selector: str) -> list[list[str]]:
    """The cells of the current screen's table *selector*, as text, row by row."""
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
