"""Key bindings whose descriptions follow the language chosen at start-up.

``BINDINGS`` are class attributes, made when a module is imported; the language is chosen
later. So descriptions are written as English message ids (marked with :func:`N_` for the
catalogue) and each screen translates its own copy when it is created.
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import BindingsMap
from textual.dom import DOMNode

from registry.i18n import N_, _

__all__ = ["N_", "translate_bindings"]


def translate_bindings(node: DOMNode) -> None:
    """Replace ``node``'s bindings with copies whose descriptions are translated."""
    keys = {
        key: [
            replace(b, description=_(b.description) if b.description else b.description,
                    tooltip=_(b.tooltip) if b.tooltip else b.tooltip)
            for b in bindings
        ]
        for key, bindings in node._bindings.key_to_bindings.items()
    }
    node._bindings = BindingsMap.from_keys(keys)
