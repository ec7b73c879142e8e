"""Latency summaries (median and 95th percentile per stage) and the detector node's frame
statistics."""

from __future__ import annotations

import collections
import threading
from typing import Iterable, Mapping

import numpy as np


def summarise(samples: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per-key median and p95 over dict samples (e.g. per-stage milliseconds)."""
    rows = list(samples)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    out = {}
    for k in keys:
        values = np.array([row[k] for row in rows if k in row], np.float64)
        out[k] = {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
                  "n": int(values.size)}
    return out


def format_summary(summary: Mapping[str, Mapping[str, float]], unit: str = "ms") -> str:
    return ", ".join(f"{k} {v['median']:.1f}/{v['p95']:.1f}" for k, v in summary.items()) \
        + f" {unit} (median/p95)"


class FrameStats:
    """What the detector node counts per frame, and the diagnostics and periodic summary
    made from it. Thread-safe: the node's callbacks and its worker both record here."""

    RATE_WINDOW_S = 5.0

    def __init__(self, window: int = 2000) -> None:
        self._lock = threading.Lock()
        self.received = self.dropped = self.processed = self.skipped = 0
        self.no_grasp = self.idle = self.requests = 0
        self.last_error = ""
        self.last_error_time = -np.inf
        self.support_plane = ""   #: the last height map's plane ("" for depth-crop models)
        self.timings_ms: collections.deque[dict[str, float]] = collections.deque(maxlen=window)
        self._processed_at: collections.deque[float] = collections.deque(maxlen=200)

    def count(self, name: str, n: int = 1) -> int:
        """Add to one counter (received, dropped, no_grasp, idle, requests); its new value."""
        with self._lock:
            value = getattr(self, name) + n
            setattr(self, name, value)
            return value

    def record_frame(self, timings_ms: dict[str, float], now: float) -> None:
        with self._lock:
            self.processed += 1
            self._processed_at.append(now)
            self.timings_ms.append(timings_ms)

    def record_skip(self, reason: str, now: float) -> None:
        with self._lock:
            self.skipped += 1
            self.last_error, self.last_error_time = reason, now

    def rate_hz(self, now: float) -> float:
        with self._lock:
            recent = [t for t in self._processed_at if now - t <= self.RATE_WINDOW_S]
        return len(recent) / self.RATE_WINDOW_S

    def diagnostic(self, now: float, *, camera_info: bool, waiting_for_requests: bool = False
                   ) -> tuple[bool, str, dict[str, str]]:
        """(ok, one-line message, key values) for a diagnostic_msgs status."""
        rate = self.rate_hz(now)
        with self._lock:
            totals = [sum(t.values()) for t in list(self.timings_ms)[-100:]]
            values = {
                "rate_hz": f"{rate:.2f}",
                "latency_median_ms": f"{np.median(totals):.1f}" if totals else "",
                "latency_p95_ms": f"{np.percentile(totals, 95):.1f}" if totals else "",
                "frames_received": str(self.received), "frames_processed": str(self.processed),
                "frames_dropped": str(self.dropped), "frames_skipped": str(self.skipped),
                "frames_no_grasp": str(self.no_grasp), "frames_idle": str(self.idle),
                "requests": str(self.requests), "last_error": self.last_error,
                "camera_info": "yes" if camera_info else "no",
                "support_plane": self.support_plane,
            }
            received, error_age = self.received, now - self.last_error_time
        if not camera_info:
            return False, "no valid CameraInfo", values
        if received == 0:
            return False, "no depth frames received", values
        if error_age < self.RATE_WINDOW_S:
            return False, f"frames skipped: {values['last_error']}", values
        if waiting_for_requests:
            return True, "on demand: waiting for ~/detect requests", values
        if rate == 0.0:
            return False, f"no grasp in the last {self.RATE_WINDOW_S:.0f} s", values
        return True, f"detecting at {rate:.1f} Hz", values

    def summary(self) -> str | None:
        """The periodic log line; None before the first processed frame."""
        with self._lock:
            samples = list(self.timings_ms)
            processed, received, dropped = self.processed, self.received, self.dropped
        if not samples:
            return None
        totals = [dict(t, total=sum(t.values())) for t in samples]
        return (f"{processed} frames processed, {dropped} of {received} dropped; "
                f"last {len(samples)}: {format_summary(summarise(totals))}")
