"""What the screens need from the console: passed down as attributes, never looked up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from cameras.config import CameraConfig
from cameras.hub import StreamHub


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
