"""What the detector node's threads hand each other, without rclpy: ~/detect requests waiting
for a frame, and masks and CameraInfos kept for the depth frame with their stamp. Tested
without DDS."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Request:
    """One ~/detect call: answered by the first frame that arrived after it."""

    after_seq: int
    done: threading.Event = field(default_factory=threading.Event)
    success: bool = False
    message: str = ""


class RequestBoard:
    """~/detect requests: each waits for the outcome of a frame numbered above ``after_seq``
    (the number of frames received when it was made), so an answer never comes from a frame
    that was already there, or in the worker's hands, when the request arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Request] = []

    def add(self, after_seq: int) -> Request:
        req = Request(after_seq)
        with self._lock:
            self._pending.append(req)
        return req

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def wanted(self, seq: int) -> bool:
        """True when some request waits for frame ``seq`` (or an earlier one)."""
        with self._lock:
            return any(r.after_seq < seq for r in self._pending)

    def answer(self, seq: int, success: bool, message: str) -> int:
        """Answer every request that frame ``seq`` can serve; returns how many."""
        with self._lock:
            served = [r for r in self._pending if r.after_seq < seq]
            self._pending = [r for r in self._pending if r.after_seq >= seq]
        for req in served:
            req.success, req.message = success, message
            req.done.set()
        return len(served)

    def wait(self, req: Request, timeout_s: float) -> bool:
        """Wait for an answer; on timeout the request is withdrawn (False)."""
        if req.done.wait(timeout_s):
            return True
        with self._lock:
            if req in self._pending:
                self._pending.remove(req)
        return req.done.is_set()

    def cancel_all(self, message: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for req in pending:
            req.success, req.message = False, message
            req.done.set()


class StampedBuffer(Generic[T]):
    """The last few messages by stamp; a reader waits for the one with a given stamp."""

    def __init__(self, size: int = 8) -> None:
        self._items: collections.deque[tuple[int, T]] = collections.deque(maxlen=size)
        self._changed = threading.Condition()

    def put(self, stamp_ns: int, item: T) -> None:
        with self._changed:
            self._items.append((stamp_ns, item))
            self._changed.notify_all()

    def get(self, stamp_ns: int, timeout_s: float) -> T | None:
        """The item with this stamp, waiting at most ``timeout_s`` for it; None if none came."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                item = next((m for s, m in reversed(self._items) if s == stamp_ns), None)
                remaining = deadline - time.monotonic()
                if item is not None or remaining <= 0:
                    return item
                self._changed.wait(remaining)
