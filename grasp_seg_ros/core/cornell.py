"""The Cornell grasping dataset: rectangle files and depth images made from its point clouds.

Layout (as distributed): ``<root>/<NN>/pcdXXXX.txt`` (PCD v0.7 ASCII point cloud, one line per
valid pixel: x y z rgb index, with index = row * 640 + col), ``pcdXXXXcpos.txt`` (positive
rectangles: 4 lines of "x y" per rectangle, x = column, y = row) and ``pcdXXXXr.png``.

Depth is made as GG-CNN's preprocessing does: the distance of each point from the origin of
the point cloud, placed at its pixel; pixels without a point are holes (NaN here, inpainted
later by the same preprocessing as the node). Cornell's clouds are in millimetres; values are
returned in metres. ``pcdXXXXd.tiff`` beside a cloud (metres or millimetres, float) is used
instead when present, so a converted copy of the dataset loads fast.

The first two corners of a rectangle give the direction between the fingers (the opening),
the next edge the jaw size, as in GG-CNN's reader; the angle follows core.grasp's convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from grasp_seg_ros.core.rectangles import GraspRectangle

CORNELL_SHAPE = (480, 640)
MM_PER_M = 1000.0


def rectangle_from_corners(corners_rc: np.ndarray) -> GraspRectangle:
    """(4, 2) corners as (row, col), the first edge along the opening -> GraspRectangle."""
    p = np.asarray(corners_rc, np.float64)
    d_row, d_col = p[1] - p[0]
    angle = float(np.arctan2(-d_row, d_col))
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2          # [-pi/2, pi/2)
    centre = p.mean(axis=0)
    return GraspRectangle(row=float(centre[0]), col=float(centre[1]), angle_rad=angle,
                          opening_px=float(np.hypot(d_row, d_col)),
                          jaw_px=float(np.linalg.norm(p[2] - p[1])))


def read_cornell_rectangles(path: Path) -> list[GraspRectangle]:
    """Rectangles of a ``pcdXXXXcpos.txt`` file; rectangles with NaN corners are skipped."""
    values = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'x y', got {line!r}")
        values.append((float(parts[1]), float(parts[0])))  # (row, col)
    if len(values) % 4:
        raise ValueError(f"{path}: {len(values)} corner lines, not a multiple of 4")
    pts = np.array(values, np.float64).reshape(-1, 4, 2)
    return [rectangle_from_corners(r) for r in pts if np.isfinite(r).all()]


def pcd_to_depth(path: Path, shape: tuple[int, int] = CORNELL_SHAPE) -> np.ndarray:
    """Depth image (metres, NaN = no point) from a Cornell ASCII point cloud."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5 or not parts[0][:1] in "-.0123456789":
                continue  # header lines
            rows.append(parts)
    if not rows:
        raise ValueError(f"{path}: no point lines (expected 'x y z rgb index')")
    data = np.array(rows, dtype=np.float64)
    index = data[:, 4].astype(np.int64)
    ok = (index >= 0) & (index < shape[0] * shape[1])
    dist = np.linalg.norm(data[ok, :3], axis=1)
    depth = np.full(shape, np.nan, np.float32)
    depth.flat[index[ok]] = dist
    return _to_metres(depth)


def _to_metres(depth: np.ndarray) -> np.ndarray:
    # Cornell's clouds (and depth tiffs made from them) are in mm: table ranges of ~1000+
    finite = depth[np.isfinite(depth) & (depth > 0)]
    if finite.size and float(np.median(finite)) > 20.0:
        depth = depth / np.float32(MM_PER_M)
    depth = depth.astype(np.float32)
    depth[~(depth > 0)] = np.nan
    return depth


@dataclass(frozen=True)
class CornellSample:
    """One Cornell image: its rectangle file, point cloud and (optional) depth tiff."""

    grasps: Path

    @property
    def stem(self) -> str:
        return self.grasps.name[:-len("cpos.txt")]  # "pcd0100"

    @property
    def cloud(self) -> Path:
        return self.grasps.with_name(self.stem + ".txt")

    @property
    def depth_tiff(self) -> Path:
        return self.grasps.with_name(self.stem + "d.tiff")

    def depth_m(self) -> np.ndarray:
        if self.depth_tiff.is_file():
            depth = cv2.imread(str(self.depth_tiff), cv2.IMREAD_UNCHANGED)
            if depth is None:
                raise OSError(f"could not read depth image {self.depth_tiff}")
            return _to_metres(depth.astype(np.float32))
        return pcd_to_depth(self.cloud)

    def rectangles(self) -> list[GraspRectangle]:
        return read_cornell_rectangles(self.grasps)


def find_cornell_samples(root: Path) -> list[CornellSample]:
    """Every ``pcd*cpos.txt`` under root with a point cloud or depth tiff beside it, sorted."""
    out = []
    for g in sorted(Path(root).rglob("pcd*cpos.txt")):
        s = CornellSample(g)
        if s.cloud.is_file() or s.depth_tiff.is_file():
            out.append(s)
    return out
