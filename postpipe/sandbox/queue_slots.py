"""Queue timeslots: when the next slots fall in the queue's time zone, and who gets which."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from datetime import time as clock_time
from typing import Iterator
from zoneinfo import ZoneInfo

from .records import QueueRecord

PRIORITY_RANK: dict[str, int] = {"high": 0, "medium": 1, "low": 2}
_MAX_WEEKS_AHEAD = 520


def weekday_sunday_zero(moment: datetime) -> int:
    """0 = Sunday ... 6 = Saturday, as Postproxy numbers days."""
    return (moment.weekday() + 1) % 7


def slot_times(queue: QueueRecord, after: float) -> Iterator[float]:
    """Unix times of the queue's slots strictly after ``after``, in order (no jitter)."""
    if not queue.timeslots:
        return
    zone = ZoneInfo(queue.timezone)
    local_start = datetime.fromtimestamp(after, tz=timezone.utc).astimezone(zone).date()
    by_day: dict[int, list[clock_time]] = {}
    for slot in queue.timeslots:
        hours, minutes = (int(part) for part in slot.time.split(":"))
        by_day.setdefault(slot.day, []).append(clock_time(hours, minutes))
    for day_offset in range(-1, 7 * _MAX_WEEKS_AHEAD):
        day = local_start + timedelta(days=day_offset)
        for moment in sorted(set(by_day.get((day.weekday() + 1) % 7, []))):
            instant = datetime.combine(day, moment, tzinfo=zone).timestamp()
            if instant > after:
                yield instant


def jitter_seconds(queue: QueueRecord, post_id: str, seed: int) -> float:
    """A stable shift within ±jitter minutes for one post in one queue."""
    if queue.jitter <= 0:
        return 0.0
    digest = hashlib.sha256(f"{seed}|{queue.id}|{post_id}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return float(round((unit * 2.0 - 1.0) * queue.jitter * 60.0))


def validate_timeslot(day: object, time_text: object) -> str | None:
    """An error text, or None when the slot is valid."""
    if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
        return "timeslot day must be an integer 0-6 (0 = Sunday)"
    if not isinstance(time_text, str):
        return "timeslot time must be HH:MM"
    parts = time_text.split(":")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return "timeslot time must be HH:MM"
    hours, minutes = int(parts[0]), int(parts[1])
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        return "timeslot time must be HH:MM"
    return None
