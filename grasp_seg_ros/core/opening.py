"""The opening a grasp needs, measured in the height map it was found in.

A parallel gripper should open to the object's extent across its closing direction plus a
clearance, and never wider than its stroke. The synthetic labels define the opening that way
(sim.trials: the extent of the object's points in a strip as wide as the pads, along the
closing direction, plus the gripper profile's clearance); a network regressing it from one
width map per cell blends the openings of every direction tried there. Where the input is a
metric height map, the extent can be read off the map instead: heights are sampled along the
closing line through the grasp, in a strip as wide as the pads, and the run of cells standing
above ``relative`` x the height at the grasp (and above ``min_height_m``) that contains the
grasp is the object's extent. The grasp is moved to the middle of that run, as the labels
centre theirs. Holes (cells nothing was seen in: occlusion shadows beside tall objects, whose
inpainted heights blend the object and the table) never end the run's ends: a run goes on
through a hole only to seen object cells beyond it, so it ends at the last cell seen on the
object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from grasp_seg_ros.core.grasp import Grasp2D

OPENING_MODES = ("auto", "model", "measured")


@dataclass(frozen=True)
class OpeningParams:
    """How the published opening is found.

    mode: 'measured' (height-map models: the extent in the map plus ``clearance_m``; a grasp
    whose opening would exceed ``max_opening_m`` is dropped, the gripper cannot close on the
    object there), 'model' (the network's width map), 'auto' (measured for height-map models,
    the model's width otherwise). Every published opening is capped at ``max_opening_m``
    (the gripper's stroke).
    """

    mode: str = "auto"
    clearance_m: float = 0.015
    max_opening_m: float = 0.085
    pad_width_m: float = 0.02
    relative: float = 0.5
    min_height_m: float = 0.005
    #: measured openings: move each grasp to the middle of the object's extent along the jaws
    #: (jaw_centre), where the model still rates its direction at least half as well as at
    #: the spot and the opening measured there fits
    centre_along_jaws: bool = True

    def validate(self) -> None:
        if self.mode not in OPENING_MODES:
            raise ValueError(f"opening mode must be one of {OPENING_MODES}, got {self.mode!r}")
        if not 0.0 <= self.clearance_m < self.max_opening_m:
            raise ValueError(f"opening clearance {self.clearance_m} m must be >= 0 and below "
                             f"the maximum opening {self.max_opening_m} m")
        if not 0.0 < self.relative < 1.0:
            raise ValueError(f"opening relative height must be in (0, 1), got {self.relative}")


def measure_opening(height_m: np.ndarray, grasp: Grasp2D, resolution_m: float,
                    params: OpeningParams, holes: np.ndarray | None = None) -> Grasp2D | None:
    """``grasp`` re-centred on the object's extent along its closing direction, with the
    opening that extent needs (module docstring), which may be wider than the stroke (the
    gripper cannot close on the object there: :func:`fits`); None when the grasp is not on
    anything standing above the plane (the caller keeps the network's width)."""
    return measure_openings(height_m, [grasp], resolution_m, params, holes)[0]


def measure_openings(height_m: np.ndarray, grasps: Sequence[Grasp2D], resolution_m: float,
                     params: OpeningParams, holes: np.ndarray | None = None
                     ) -> list[Grasp2D | None]:
    """:func:`measure_opening` of several grasps (at one cell or at many), the map sampled
    for all of them at once (the same results, in a fraction of the time)."""
    if not grasps:
        return []
    res = float(resolution_m)
    closing = np.array([[-np.sin(g.angle_rad), np.cos(g.angle_rad)] for g in grasps],
                       np.float32)
    cells = np.array([(g.row, g.col) for g in grasps], np.float32)
    s, runs = _object_runs(height_m, cells, closing, params.max_opening_m / res,
                           0.5 * params.pad_width_m / res, params, holes)
    out: list[Grasp2D | None] = []
    for g, direction, run in zip(grasps, closing, runs):
        if run is None:
            out.append(None)
            continue
        lo, hi = run
        # a point marks its whole cell (so the cells span up to one more than the object);
        # the half-cell samples between the end ones span about the object
        extent_px = float(s[hi] - s[lo])
        middle = 0.5 * float(s[hi] + s[lo])
        opening_px = extent_px + params.clearance_m / res     # may exceed the stroke: fits
        out.append(replace(g, row=_cell(g.row + middle * direction[0], height_m.shape[0]),
                           col=_cell(g.col + middle * direction[1], height_m.shape[1]),
                           width_px=opening_px))
    return out


def jaw_centre(height_m: np.ndarray, grasp: Grasp2D, resolution_m: float,
               params: OpeningParams, holes: np.ndarray | None = None, *,
               strip_m: float = 0.008) -> tuple[int, int] | None:
    """The middle of the object's extent through ``grasp`` along the jaws (across the closing
    direction), read in the map like the opening (a strip ``strip_m`` wide, across the whole
    map), as the (row, col) cell; None when the grasp is on nothing. A grasp near one end of a
    long object holds it far from its centre of mass, and the lift, the shake and the wrist
    turn swing it out of the fingers."""
    return jaw_centres(height_m, [grasp], resolution_m, params, holes, strip_m=strip_m)[0]


def jaw_centres(height_m: np.ndarray, grasps: Sequence[Grasp2D], resolution_m: float,
                params: OpeningParams, holes: np.ndarray | None = None, *,
                strip_m: float = 0.008) -> list[tuple[int, int] | None]:
    """:func:`jaw_centre` of several grasps, the map sampled for all of them at once."""
    if not grasps:
        return []
    res = float(resolution_m)
    jaws = np.array([[np.cos(g.angle_rad), np.sin(g.angle_rad)] for g in grasps], np.float32)
    cells = np.array([(g.row, g.col) for g in grasps], np.float32)
    s, runs = _object_runs(height_m, cells, jaws, float(max(height_m.shape)),
                           0.5 * strip_m / res, params, holes)
    out: list[tuple[int, int] | None] = []
    for g, jaw, run in zip(grasps, jaws, runs):
        if run is None:
            out.append(None)
            continue
        middle = 0.5 * float(s[run[1]] + s[run[0]])
        out.append((_cell(g.row + middle * jaw[0], height_m.shape[0]),
                    _cell(g.col + middle * jaw[1], height_m.shape[1])))
    return out


@lru_cache(maxsize=32)
def _steps(reach_px: float) -> np.ndarray:
    """Half-cell steps out to ``reach_px`` either side (read-only: shared between calls)."""
    s = np.arange(-np.ceil(reach_px), np.ceil(reach_px) + 1, 0.5, dtype=np.float32)
    s.flags.writeable = False
    return s


@lru_cache(maxsize=32)
def _offsets(half_strip_px: float) -> np.ndarray:
    """The strip's lines, ``half_strip_px`` either side (read-only: shared between calls)."""
    o = np.linspace(-half_strip_px, half_strip_px, max(3, int(np.ceil(2 * half_strip_px)) + 1),
                    dtype=np.float32)
    o.flags.writeable = False
    return o


def _cell(value, size: int) -> int:
    """The nearest cell index to ``value`` (rounded half to even, as np.round), inside
    0 .. size - 1."""
    return min(max(int(round(value)), 0), size - 1)


def _object_runs(height_m: np.ndarray, cells: np.ndarray, directions: np.ndarray,
                 reach_px: float, half_strip_px: float, params: OpeningParams,
                 holes: np.ndarray | None) -> tuple[np.ndarray, list[tuple[int, int] | None]]:
    """Heights along each of ``directions`` ((D, 2) float32 (row, col) unit vectors) through
    its cell (``cells``, (D, 2) (row, col)), in a strip 2 x ``half_strip_px`` wide, at
    half-cell steps out to ``reach_px`` either side: (the steps, per direction the first and
    the last step of the object's run holding the cell, or None when the cell is on nothing
    that way; module docstring)."""
    s = _steps(float(reach_px))
    offsets = _offsets(float(half_strip_px))
    d = np.asarray(directions, np.float32)
    along_r, along_c = d[:, 0, None, None], d[:, 1, None, None]
    at = np.asarray(cells, np.float32)
    # across each direction: (col, -row) of it
    rows = at[:, 0, None, None] + s[None, None, :] * along_r + offsets[None, :, None] * along_c
    cols = at[:, 1, None, None] + s[None, None, :] * along_c + offsets[None, :, None] * -along_r
    n, lines = len(d), len(offsets)
    rows, cols = rows.reshape(n * lines, -1), cols.reshape(n * lines, -1)
    # nearest cells; outside the map counts as the plane (height 0)
    heights = cv2.remap(np.asarray(height_m, np.float32), cols, rows, cv2.INTER_NEAREST,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0).reshape(n, lines, -1)
    centre = (len(s) - 2) // 2   # the step at 0 (s runs from -n to n + 0.5 by 0.5)
    # compared in float64, the threshold then rounded to float32 for the heights, as a
    # Python float is
    tops = heights[:, :, max(centre - 1, 0):centre + 2].max(axis=(1, 2)).astype(np.float64)
    standing = np.isfinite(tops) & (tops >= params.min_height_m)
    seen = np.ones_like(heights, bool)
    if holes is not None and standing.any():   # the bool mask read as bytes, no copy;
        # outside the map: no hole
        hole = cv2.remap(np.ascontiguousarray(holes, bool).view(np.uint8), cols, rows,
                         cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        seen = hole.reshape(n, lines, -1) == 0
    # per direction and sample: seen on the object (in some line of the strip), seen off
    # it, or unseen
    threshold = np.maximum(params.min_height_m, params.relative * tops).astype(np.float32)
    on = ((heights >= threshold[:, None, None]) & seen).any(axis=1)
    off = ~on & seen.all(axis=1)
    # the run holding the grasp (or its nearest seen object sample), through holes, ending on
    # seen object samples: between the seen-off samples either side of it, its outermost
    # object samples (ties go to the lower step, as np.argmin)
    idx = np.arange(len(s))[None, :]
    start = np.where(on, np.abs(idx - centre), len(s)).argmin(axis=1)[:, None]
    left = np.where(off & (idx < start), idx, -1).max(axis=1)[:, None] + 1
    right = np.where(off & (idx > start), idx, len(s)).min(axis=1)[:, None] - 1
    lo = np.where(on & (idx >= left), idx, len(s)).min(axis=1)
    hi = np.where(on & (idx <= right), idx, -1).max(axis=1)
    found = standing & on.any(axis=1)
    runs = [(int(a), int(b)) if ok else None for a, b, ok in zip(lo, hi, found)]
    return s, runs


def fits(grasp: Grasp2D, resolution_m: float, params: OpeningParams) -> bool:
    """Whether a measured opening is within the gripper's stroke."""
    return grasp.width_px * resolution_m <= params.max_opening_m + 1e-9
