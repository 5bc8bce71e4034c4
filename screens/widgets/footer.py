"""The key footer, redrawn only when the keys it shows change.

Textual's ``Footer`` rebuilds every key (unmount, mount, restyle) on each bindings change, and
moving the focus from one camera tile to another is one, although every tile offers the same
keys. With 16 live tiles that rebuild was about half of the UI thread's work per arrow press
(see docs/benchmarks.md); this footer skips it when nothing it shows has changed.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup


class KeyFooter(Footer):
    """Textual's footer, with the keys that must never be cut off by a narrow terminal first.

    The privacy blank (R3), signing out and the console's functions (F-keys) come before the
    screen's own keys: when a role has many keys and the terminal is narrow, the ones at the
    end are cut (grid layouts, paging: learnt once), never these.
    """

    #: actions shown first, in this order
    FIRST: ClassVar[tuple[str, ...]] = (
        "privacy_blank", "toggle_keys", "sign_out", "lock", "open_playback", "open_export",
        "open_register", "open_review", "open_holds", "open_media",
    )

    _shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        # Textual 8.2's Footer.compose, with the bindings ordered by FIRST (stable otherwise).
        if not self._bindings_ready:
            return
        bindings = [
            (binding, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        ]
        rank = {action: i for i, action in enumerate(self.FIRST)}
        bindings.sort(key=lambda item: rank.get(item[0].action, len(rank)))
        by_action: defaultdict[str, list[tuple[Binding, bool, str]]] = defaultdict(list)
        for binding, enabled, tooltip in bindings:
            by_action[binding.action].append((binding, enabled, tooltip))
        self.styles.grid_size_columns = len(by_action)
        for group, same_group in groupby(by_action.values(), lambda b: b[0][0].group):
            members = list(same_group)
            if group is not None and len(members) > 1:
                with KeyGroup(classes="-compact" if group.compact else ""):
                    for member in members:
                        binding, enabled, tooltip = member[0]
                        yield FooterKey(
                            binding.key, self.app.get_key_display(binding), "",
                            binding.action, disabled=not enabled,
                            tooltip=tooltip or binding.description, classes="-grouped",
                        ).data_bind(compact=Footer.compact)
                yield FooterLabel(group.description)
                continue
            for member in members:
                binding, enabled, tooltip = member[0]
                yield FooterKey(
                    binding.key, self.app.get_key_display(binding), binding.description,
                    binding.action, disabled=not enabled, tooltip=tooltip,
                ).data_bind(compact=Footer.compact)

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
