"""The privacy blank (R3): everything hidden at once until the same key is pressed again."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import ModalScreen
from textual.widgets import Static

from registry.i18n import _


class BlankScreen(ModalScreen[None]):
    """An opaque black screen: no picture, no camera name, no place."""

    DEFAULT_CSS = """
    BlankScreen {
        background: #000000;
    }
    BlankScreen #blank-note {
        color: #5a5a5a;
        width: auto;
    }
    """

    def __init__(self, key_display: str) -> None:
        super().__init__()
        self.key_display = key_display

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(
                _("Screen blanked. Press {key} to show the cameras again.").format(
                    key=self.key_display
                ),
                id="blank-note",
            )
