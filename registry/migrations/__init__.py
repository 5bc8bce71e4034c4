"""The database's schema steps, one module per version (``vNNNN_topic.py``).

Each module defines ``VERSION`` (an int, equal to the number in its name) and ``SQL`` (the
statements of that step). :func:`load_migrations` finds them all, so that two features can
add their tables in two files without editing a shared list. Versions must be 1, 2, 3, ...
without gaps: a gap means a missing file and stops the program before it touches a database.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

_NAME = re.compile(r"v(\d{4})_[a-z0-9_]+")


def load_migrations() -> tuple[tuple[int, str], ...]:
    steps: list[tuple[int, str]] = []
    for info in pkgutil.iter_modules(__path__):
        match = _NAME.fullmatch(info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        version = int(module.VERSION)
        if version != int(match.group(1)):
            raise RuntimeError(f"migration {info.name} declares VERSION = {version}")
        steps.append((version, str(module.SQL)))
    steps.sort()
    versions = [v for v, _ in steps]
    if versions != list(range(1, len(steps) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {versions}")
    return tuple(steps)
