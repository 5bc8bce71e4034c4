"""Shared by the access-register tests: a real SQLite store with signed-in people.

The signature is a real password check (argon2id with cheap parameters) of the session's
person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry.audit import AuditTrail
from registry.passwords import HashParameters, hash_password, verify_password
from registry.people import Person
from registry.register import AccessKind, AccessRegister, AccessRequest, ThirdParty
from registry.roles import Level, role_named
from registry.session import Session
from registry.store import Store
from registry.store_people import PeopleStore

CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
PASSWORD = "Verde-Prato-42"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    store: Store
    audit: AuditTrail
    register: AccessRegister
    clock: Clock
    sessions: dict[str, Session]


def confirm(session: Session, password: str) -> bool:
    return verify_password(session.person.password_hash, password)


PEOPLE = {
    # username: (full name, role)
    "a.bianchi": ("Anna Bianchi", "operatore_esperto"),
    "l.verdi": ("Luca Verdi", "operatore_esperto"),
    "m.rossi": ("Mario Rossi", "operatore"),
    "s.neri": ("Sara Neri", "supervisore"),
    "g.conti": ("Giulia Conti", "supervisore"),
    "t.gallo": ("Tino Gallo", "tecnico"),
    "r.riva": ("Rita Riva", "amministratore"),
}


@pytest.fixture(name="world")
def register_world_fixture(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    with Store.open(tmp_path / "data") as store:
        people = PeopleStore(store)
        sessions: dict[str, Session] = {}
        hashed = hash_password(PASSWORD, CHEAP)
        for username, (full_name, role) in PEOPLE.items():
            person = Person(username, full_name, role, Level.FIRST, hashed, T0)
            people.add(person, T0, "test")
            sid = people.open_session(username, T0)
            sessions[username] = Session(sid, person, role_named(role), T0)
        audit = AuditTrail(store, b"k" * 32, clock)
        register = AccessRegister(store, audit, confirm, clock,
                                  extra_purposes=["Controllo mercato settimanale", " "])
        yield World(store, audit, register, clock, sessions)


VISITOR = ThirdParty("Giovanni Esposito", "C.I. CA12345AB", "prot. 1234/2026",
                     "Responsabile del trattamento")


def request(kind: AccessKind = AccessKind.PLAYBACK, **changes: object) -> AccessRequest:
    base = AccessRequest(
        kind=kind, purpose="road_accident", cameras=["cam-01", "cam-02"],
        span_from=T0 - timedelta(hours=5), span_to=T0 - timedelta(hours=4),
        observations="Incidente via Roma",
    )  # fmt: skip
    if kind in (AccessKind.VISIT, AccessKind.ERASURE):
        base = replace(base, third_party=VISITOR, confidentiality_declared=True)
    if kind is AccessKind.EXPORT:
        base = replace(base, recipient="Procura della Repubblica di Brescia")
    return replace(base, **changes)  # type: ignore[arg-type]


def entry_count(store: Store) -> int:
    return int(store.fetch_one("SELECT COUNT(*) FROM register_entry")[0])


def actions(audit: AuditTrail) -> list[str]:
    return [e.action for e in audit.entries()]
