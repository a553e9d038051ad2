"""A heap of actions due at a sandbox time; the engine runs them in time order."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

TimerAction = Callable[..., None]


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    action: TimerAction = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)


class TimerQueue:
    """Not thread-safe by itself: callers hold the state lock."""

    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._counter = itertools.count()

    def schedule(self, due: float, action: TimerAction, *args: Any) -> None:
        heapq.heappush(self._heap, _Timer(due, next(self._counter), action, args))

    def pop_due(self, until: float) -> tuple[float, TimerAction, tuple[Any, ...]] | None:
        if self._heap and self._heap[0].due <= until:
            timer = heapq.heappop(self._heap)
            return timer.due, timer.action, timer.args
        return None

    def __len__(self) -> int:
        return len(self._heap)
