"""Which permission each key action needs, so that the UI offers only what a role may do.

The domain refuses anything a role lacks anyway (``registry.session.require``, audited); this
map mirrors those rules in the UI so that the footer never shows a key that would only lead to a
refusal (STYLE.md habit 8). Screens mix in :class:`RoleChecked`, name their scope, and Textual
asks :meth:`RoleChecked.check_action` before showing or running a binding: an action whose
permissions the session lacks is hidden (``False``), and with nobody signed in every mapped
action is hidden.

Extending it (later screens): add ``(scope, action) -> permissions`` entries to
:data:`ACTION_PERMISSIONS` (any one of the permissions suffices), give the screen
``ACTION_SCOPE = "<scope>"`` and mix in :class:`RoleChecked` before ``Screen``. The App's own
actions use the scope ``"app"`` (``CentraleApp.check_action`` consults this map), and two
entries are reserved for the screens of issue 3 parts 7-8, still to be bound there: binding
F9 to an action named ``open_register`` (the access register: ``playback``) and F8 to
``open_review`` (the supervisor's review: ``review_register``) hides each key from the roles
that lack it with no other change. Actions not in the map (privacy blank, quit, moving the
focus in a form) are open to everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from registry.roles import Permission
from registry.session import Session

if TYPE_CHECKING:
    from screens.context import ConsoleContext

__all__ = ["ACTION_PERMISSIONS", "RoleChecked", "action_allowed", "permission_for_action"]

W = frozenset({Permission.WATCH})

#: (scope, action name) -> the permissions of which the session needs at least one.
ACTION_PERMISSIONS: dict[tuple[str, str], frozenset[Permission]] = {
    # the live grid and the full view show live footage: watch
    ("grid", "move"): W,
    ("grid", "open"): W,
    ("grid", "layout"): W,
    ("grid", "page"): W,
    ("single", "back"): W,
    ("single", "step"): W,
    # PTZ control and the mask editor, from the grid or the full view
    ("grid", "ptz"): frozenset({Permission.PTZ}),
    ("grid", "masks"): frozenset({Permission.DEFINE_PRESETS}),
    ("single", "ptz"): frozenset({Permission.PTZ}),
    ("single", "masks"): frozenset({Permission.DEFINE_PRESETS}),
    # recorded footage and holds (F7, F6): screens.playback / screens.holds REQUIRED_PERMISSION
    ("app", "open_playback"): frozenset({Permission.PLAYBACK}),
    ("app", "open_holds"): frozenset({Permission.HOLD}),
    # exports (F5) and removable media (F4): screens.export / screens.media
    ("app", "open_export"): frozenset({Permission.EXPORT}),
    ("app", "open_media"): frozenset({Permission.EXPORT, Permission.REVIEW_REGISTER}),
    # reserved for the register (F9) and review (F8) screens: the same rules as
    # screens.register.REQUIRED_PERMISSION and screens.review.REQUIRED_PERMISSION
    ("app", "open_register"): frozenset({Permission.PLAYBACK}),
    ("app", "open_review"): frozenset({Permission.REVIEW_REGISTER}),
}


def permission_for_action(
    scope: str, action: str, table: Mapping[tuple[str, str], frozenset[Permission]] | None = None
) -> frozenset[Permission] | None:
    """The permissions (any one suffices) ``action`` of ``scope`` needs; None when open to all."""
    return (ACTION_PERMISSIONS if table is None else table).get((scope, action))


def action_allowed(session: Session | None, scope: str, action: str) -> bool:
    """True when ``session`` may run ``action``; a mapped action needs somebody signed in."""
    needed = permission_for_action(scope, action)
    if needed is None:
        return True
    if session is None:
        return False
    return any(session.allows(p) for p in needed)


class RoleChecked:
    """Mixin for screens: hide the bindings the signed-in role may not use."""

    ACTION_SCOPE: ClassVar[str] = ""
    context: ConsoleContext

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False (not None): a forbidden key is hidden from the footer, not shown greyed out.
        return action_allowed(self.context.session, self.ACTION_SCOPE, action)
