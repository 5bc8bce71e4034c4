"""The key footer, redrawn only when the keys it shows change.

Textual's ``Footer`` rebuilds every key (unmount, mount, restyle) on each bindings change, and
moving the focus from one camera tile to another is one, although every tile offers the same
keys. With 16 live tiles that rebuild was about half of the UI thread's work per arrow press
(see docs/benchmarks.md); this footer skips it when nothing it shows has changed.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _shown: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = tuple(
            (key, active.binding.action, active.binding.description, active.enabled,
             active.tooltip)
            for key, active in screen.active_bindings.items()
            if active.binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
