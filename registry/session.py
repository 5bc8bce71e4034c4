"""Who is signed in at a console, and the one place permissions are checked (R10, R14).

A :class:`Session` is made by the accounts service at a successful sign-in and passed to every
domain service that acts on someone's behalf. :func:`require` checks a permission and, when it
is missing, writes the refusal to the audit trail before raising
:class:`~registry.roles.PermissionDenied`: the UI hides what a role lacks
(``check_action``), and the domain refuses it anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from registry.people import Person
from registry.roles import Level, Permission, PermissionDenied, Role

#: Audit action of a refused permission.
PERMISSION_REFUSED = "permission_refused"


class Auditor(Protocol):
    """What :func:`require` needs of :class:`~registry.audit.AuditTrail`."""

    def append(self, actor: str, action: str, target: str = "",
               details: dict[str, str] | None = None) -> object: ...


@dataclass(frozen=True)
class Session:
    """One person signed in at one console (``id`` is the database's session row)."""

    id: int
    person: Person
    role: Role
    started_at: datetime
    #: the operator present who co-signed a maintenance session (R14)
    cosigner: str | None = None
    workstation: str = ""

    @property
    def username(self) -> str:
        return self.person.username

    @property
    def full_name(self) -> str:
        return self.person.full_name

    @property
    def level(self) -> Level:
        return self.person.level

    @property
    def permissions(self) -> frozenset[Permission]:
        return self.role.permissions

    def allows(self, permission: Permission) -> bool:
        return self.role.allows(permission)


def require(session: Session, permission: Permission, audit: Auditor, target: str = "") -> None:
    """Raise :class:`PermissionDenied` (audited) unless *session* holds *permission*."""
    if session.allows(permission):
        return
    audit.append(
        session.username, PERMISSION_REFUSED, target,
        {"permission": str(permission), "role": session.role.name},
    )  # fmt: skip
    raise PermissionDenied(session.username, permission)
