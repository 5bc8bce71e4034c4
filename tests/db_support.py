"""Database set-up that several test modules share (tests/ is not a package: import it as
``from db_support import ...``).

The ``store`` fixture itself is in ``conftest.py``.
"""

from __future__ import annotations

from datetime import datetime

from registry.people import Person
from registry.roles import Level, role_named
from registry.session import Session
from registry.store import Store
from registry.store_people import PeopleStore


def stored_session(store: Store, username: str, role: str, at: datetime, *,
                   session_id: int = 1) -> Session:
    """A session of a first-level person with *role*, stored in *store* at *at*.

    The person row is real (the services join it, and audit the username); the password
    hash is a placeholder, since nobody signs in with it.
    """
    person = Person(username=username, full_name=username.title(), role=role,
                    level=Level.FIRST, password_hash="x", password_changed_at=at)
    PeopleStore(store).add(person, at, "test")
    return Session(id=session_id, person=person, role=role_named(role), started_at=at)
