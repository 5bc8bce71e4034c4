"""Roles and permissions: every cell of the role x permission matrix, levels, R14."""

from __future__ import annotations

import pytest

from registry.errors import CentraleError
from registry.roles import (
    DEFAULT_ROLES,
    Level,
    OperatorPresenceRequired,
    Permission,
    PermissionDenied,
    UnknownRole,
    require,
    require_operator_presence,
    role_named,
)

# The expected matrix, written independently of registry.roles: X allowed, . refused.
# Columns follow the order below.
COLUMNS = (
    "watch", "ptz", "playback", "export", "redact", "hold",
    "define_presets", "manage_users", "review_register",
)
EXPECTED = {
    #                     wat ptz pla exp red hol pre usr reg
    "operatore":         "X   X   .   .   .   .   .   .   .",
    "operatore_esperto": "X   X   X   X   .   .   .   .   .",
    "supervisore":       "X   X   X   X   X   X   X   X   X",
    "tecnico":           ".   .   .   .   .   .   .   .   .",
    "amministratore":    ".   .   .   .   .   .   .   X   .",
}
CELLS = [
    (role, Permission(column), mark == "X")
    for role, row in EXPECTED.items()
    for column, mark in zip(COLUMNS, row.split(), strict=True)
]


def test_columns_are_every_permission() -> None:
    assert set(COLUMNS) == {p.value for p in Permission}
    assert set(EXPECTED) == set(DEFAULT_ROLES)


@pytest.mark.parametrize(("role_name", "permission", "allowed"), CELLS)
def test_every_cell_of_the_matrix(role_name: str, permission: Permission, allowed: bool) -> None:
    role = role_named(role_name)
    assert role.allows(permission) is allowed
    if allowed:
        require(role.permissions, permission, "m.rossi")
    else:
        with pytest.raises(PermissionDenied) as caught:
            require(role.permissions, permission, "m.rossi")
        assert caught.value.who == "m.rossi"
        assert caught.value.permission is permission
        assert "m.rossi" in caught.value.message
        assert permission.display_title in caught.value.message
        assert isinstance(caught.value, CentraleError)
        assert caught.value.title == "Permission denied"


def test_no_footage_for_administrator_and_technician() -> None:
    footage = {Permission.WATCH, Permission.PLAYBACK, Permission.EXPORT, Permission.REDACT}
    for name in ("amministratore", "tecnico"):
        assert not footage & DEFAULT_ROLES[name].permissions


def test_only_the_technician_is_maintenance_only() -> None:
    assert [r.name for r in DEFAULT_ROLES.values() if r.maintenance_only] == ["tecnico"]


def test_titles_and_levels() -> None:
    for role in DEFAULT_ROLES.values():
        assert role.title and role.display_title
    assert Level.FIRST < Level.SECOND
    assert Level(1) is Level.FIRST and Level(2) is Level.SECOND
    assert Level.FIRST.display_title and Level.SECOND.display_title
    for permission in Permission:
        assert permission.display_title


def test_unknown_role() -> None:
    with pytest.raises(UnknownRole, match="capo"):
        role_named("capo")


def test_technician_needs_an_operator_who_may_watch() -> None:
    tecnico = DEFAULT_ROLES["tecnico"]
    operatore = DEFAULT_ROLES["operatore"]
    amministratore = DEFAULT_ROLES["amministratore"]
    with pytest.raises(OperatorPresenceRequired):
        require_operator_presence(tecnico, "g.bianchi", None, ())
    with pytest.raises(OperatorPresenceRequired):
        require_operator_presence(tecnico, "g.bianchi", "a.admin", amministratore.permissions)
    with pytest.raises(OperatorPresenceRequired):  # nobody vouches for themselves
        require_operator_presence(tecnico, "g.bianchi", "g.bianchi", operatore.permissions)
    require_operator_presence(tecnico, "g.bianchi", "m.rossi", operatore.permissions)
    # Other roles need nobody.
    require_operator_presence(operatore, "m.rossi", None, ())
