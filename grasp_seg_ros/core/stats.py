"""Latency summaries: median and 95th percentile per stage."""

from __future__ import annotations

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
