"""Roles, permissions and PTZ levels (R9, R10, R14; Lum. 9, 10ter.5, 11.2, 11.7; Per. 8, 9 c2).

A person holds one role; a role is a set of :class:`Permission`. The default roles are data
(:data:`DEFAULT_ROLES`), so that a site may add its own without touching code. Titles are English
message ids, translated when shown (:attr:`Role.display_title`), never at import time, so that
the language chosen at start-up applies.

Choices (see DESIGN.md "People, roles and the register"):

- ``supervisore`` is the responsabile: holds every permission, ``manage_users`` included,
  because the responsabile designates the operators in writing (Lum. 9, 10ter.5) and defines
  positions and presets (R8).
- ``amministratore`` runs the system (people, technical settings) but sees no footage: only
  ``manage_users``. Separating who administers from who watches keeps the system administrator
  out of the footage (Lum. 11.2, 11.7).
- ``tecnico`` is maintenance only: no permission of its own, and a session only with an
  authorised operator present, i.e. co-signed by a person who holds ``watch`` (R14).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from registry.errors import CentraleError
from registry.i18n import N_, _


class Permission(StrEnum):
    WATCH = "watch"
    PTZ = "ptz"
    PLAYBACK = "playback"
    EXPORT = "export"
    REDACT = "redact"
    HOLD = "hold"
    DEFINE_PRESETS = "define_presets"
    MANAGE_USERS = "manage_users"
    REVIEW_REGISTER = "review_register"

    @property
    def display_title(self) -> str:
        """What the permission lets one do, translated (completes "may not ...")."""
        return _(_PERMISSION_TITLES[self])


_PERMISSION_TITLES: dict[Permission, str] = {
    Permission.WATCH: N_("watch the live cameras"),
    Permission.PTZ: N_("move and zoom the cameras"),
    Permission.PLAYBACK: N_("play back recordings"),
    Permission.EXPORT: N_("export footage"),
    Permission.REDACT: N_("redact footage"),
    Permission.HOLD: N_("keep recordings beyond the retention term"),
    Permission.DEFINE_PRESETS: N_("define camera positions and presets"),
    Permission.MANAGE_USERS: N_("manage people and their roles"),
    Permission.REVIEW_REGISTER: N_("review the access register"),
}


class Level(IntEnum):
    """PTZ priority level (R9): first level takes precedence over second."""

    FIRST = 1  # the municipal control room (Polizia Locale)
    SECOND = 2  # other police forces

    @property
    def display_title(self) -> str:
        return _(_LEVEL_TITLES[self])


_LEVEL_TITLES: dict[Level, str] = {
    Level.FIRST: N_("First level (municipal control room)"),
    Level.SECOND: N_("Second level (other police forces)"),
}


@dataclass(frozen=True)
class Role:
    name: str
    #: English message id; shown translated through :attr:`display_title`.
    title: str
    permissions: frozenset[Permission]
    #: Maintenance only: a session needs an operator who may watch, present and co-signing (R14).
    maintenance_only: bool = False

    @property
    def display_title(self) -> str:
        return _(self.title)

    def allows(self, permission: Permission) -> bool:
        return permission in self.permissions


P = Permission

#: The role x permission matrix, as data.
ROLE_MATRIX: Mapping[str, frozenset[Permission]] = {
    "operatore": frozenset({P.WATCH, P.PTZ}),
    "operatore_esperto": frozenset({P.WATCH, P.PTZ, P.PLAYBACK, P.EXPORT}),
    "supervisore": frozenset(Permission),
    "tecnico": frozenset(),
    "amministratore": frozenset({P.MANAGE_USERS}),
}

_ROLE_TITLES: dict[str, str] = {
    "operatore": N_("Operator"),
    "operatore_esperto": N_("Senior operator"),
    "supervisore": N_("Supervisor (data controller's delegate)"),
    "tecnico": N_("Maintenance technician"),
    "amministratore": N_("System administrator"),
}

DEFAULT_ROLES: Mapping[str, Role] = {
    name: Role(
        name=name,
        title=_ROLE_TITLES[name],
        permissions=permissions,
        maintenance_only=(name == "tecnico"),
    )
    for name, permissions in ROLE_MATRIX.items()
}


class UnknownRole(CentraleError):
    title = N_("Unknown role")


def role_named(name: str, roles: Mapping[str, Role] = DEFAULT_ROLES) -> Role:
    try:
        return roles[name]
    except KeyError:
        raise UnknownRole(
            _("There is no role named {name}: choose one of {choices}.").format(
                name=name, choices=", ".join(roles)
            )
        ) from None


class PermissionDenied(CentraleError):
    """``who`` lacks ``permission``."""

    title = N_("Permission denied")

    def __init__(self, who: str, permission: Permission, message: str | None = None) -> None:
        if message is None:
            message = _("{who} is not allowed to {action}.").format(
                who=who, action=permission.display_title
            )
        super().__init__(message)
        self.who = who
        self.permission = permission


def require(person_permissions: Collection[Permission], permission: Permission, who: str) -> None:
    """Raise :class:`PermissionDenied` unless ``permission`` is among ``person_permissions``."""
    if permission not in person_permissions:
        raise PermissionDenied(who, permission)


class OperatorPresenceRequired(CentraleError):
    """A maintenance session without an authorised operator present (R14)."""

    title = N_("Operator presence required")


def require_operator_presence(
    role: Role, who: str, cosigner: str | None, cosigner_permissions: Collection[Permission]
) -> None:
    """Refuse a maintenance-only session unless co-signed by someone who may watch (R14).

    Roles that are not maintenance-only pass unconditionally.
    """
    if not role.maintenance_only:
        return
    if cosigner is None:
        raise OperatorPresenceRequired(
            _("{who} may work only with an authorised operator present: "
              "an operator must sign in alongside.").format(who=who)
        )
    if cosigner == who or Permission.WATCH not in cosigner_permissions:
        raise OperatorPresenceRequired(
            _("{cosigner} cannot vouch for {who}: the operator present must be another "
              "person allowed to watch the cameras.").format(cosigner=cosigner, who=who)
        )
