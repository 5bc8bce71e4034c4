"""What the screens need from the console: passed down as attributes, never looked up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cameras.config import CameraConfig
from cameras.hub import StreamHub
from registry.session import Session

if TYPE_CHECKING:
    from ptz.runtime import PtzRuntime
    from registry.accounts import Accounts
    from registry.store_footage import HealthRow


@dataclass(frozen=True)
class DemoAccount:
    """An account the demo made, listed on the sign-in screen in demo mode only."""

    username: str
    password: str
    role: str


@dataclass
class ConsoleContext:
    hub: StreamHub
    cameras: list[CameraConfig]
    site_name: str
    control_room: str
    timezone: str = "Europe/Rome"
    clock_format: str = "%d/%m/%Y %H:%M:%S"
    layout: int = 4
    #: the wall clock (tests pass a fixed one so that snapshots are stable)
    clock: Callable[[ZoneInfo], datetime] = datetime.now
    #: the accounts service (sign-in, lock, sign-out); None only in tests of single widgets
    accounts: Accounts | None = None
    #: who is signed in. Only the App writes it (at sign-in, sign-out and lock-out); screens
    #: read it when they draw their header or decide which keys to offer.
    session: Session | None = None
    #: minutes without a key press before the console locks ([ui] idle_lock_minutes)
    idle_lock_minutes: float = 5.0
    #: demo accounts shown on the sign-in screen; empty unless the console runs as the demo
    demo_accounts: list[DemoAccount] = field(default_factory=list)
    #: the clock of the idle lock (tests pass one they can move)
    monotonic: Callable[[], float] = time.monotonic
    #: PTZ control, presets, leases and tours of the PTZ cameras (None: no PTZ in this console)
    ptz: PtzRuntime | None = None
    #: reads the recorder's health rows (the grid shows them and raises the disk-full alarm);
    #: None when the console has no database (tests of single widgets)
    read_health: Callable[[], list[HealthRow]] | None = None
