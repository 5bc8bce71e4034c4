"""What-if (benchmark only): the Footer recomposes only when the shown bindings change.

Textual's Footer recomposes (unmounts and mounts every FooterKey) on each bindings change,
and moving the focus from one camera tile to another is one, although the tiles show the
same keys. Loaded with ``bench/run_grid.py --patch`` before the console starts.
"""

from textual.widgets import _footer

_original = _footer.Footer.bindings_changed


def bindings_changed(self, screen):  # type: ignore[no-untyped-def]
    sig = tuple(
        (key, ab.binding.action, ab.binding.description, ab.enabled, ab.tooltip)
        for key, ab in screen.active_bindings.items()
    )
    if getattr(self, "_bench_sig", None) == sig and self._bindings_ready:
        return
    self._bench_sig = sig
    _original(self, screen)


_footer.Footer.bindings_changed = bindings_changed
