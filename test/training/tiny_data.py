"""Tiny datasets in the real file formats (Jacquard/synthetic and Cornell), made by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp_seg_ros.core.jacquard import JacquardSample, write_depth, write_grasps, write_mask
from grasp_seg_ros.core.rectangles import GraspRectangle


def box_sample(rng: np.random.Generator, shape=(480, 640)):
    """Depth of a table (0.6 m) with one box (0.5 m) near the centre, and grasps across it."""
    h, w = shape
    depth = np.full(shape, 0.6, np.float32)
    bh, bw = int(rng.integers(20, 40)), int(rng.integers(60, 100))
    r0 = h // 2 - bh // 2 + int(rng.integers(-40, 40))
    c0 = w // 2 - bw // 2 + int(rng.integers(-40, 40))
    depth[r0:r0 + bh, c0:c0 + bw] = 0.5
    depth[rng.random(shape) < 0.01] = np.nan
    rects = [GraspRectangle(row=r0 + (bh - 1) / 2, col=c0 + f * (bw - 1),
                            angle_rad=np.pi / 2 - 1e-3, opening_px=bh + 10.0, jaw_px=12.0)
             for f in (0.3, 0.5, 0.7)]  # closing across the short side (vertical)
    return depth, rects, (r0, c0, bh, bw)


def make_jacquard(root: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        depth, rects, _ = box_sample(rng)
        name = f"obj{i:03d}"
        sample = JacquardSample(root / name / f"0_{name}")
        sample.prefix.parent.mkdir(parents=True, exist_ok=True)
        for kind in ("perfect", "stereo"):
            write_depth(sample.path(kind), depth)
        write_mask(sample.path("mask"), depth < 0.55)
        write_grasps(sample.path("grasps"), rects)
    return root


def write_cornell_cloud(path: Path, depth_mm: np.ndarray) -> None:
    """An ASCII PCD v0.7 as in Cornell: x y z rgb index for every pixel with depth."""
    h, w = depth_mm.shape
    rows, cols = np.nonzero(np.isfinite(depth_mm))
    lines = ["# .PCD v.7 - Point Cloud Data file format", "FIELDS x y z rgb index",
             "SIZE 4 4 4 4 4", "TYPE F F F F U", "COUNT 1 1 1 1 1", f"WIDTH {len(rows)}",
             "HEIGHT 1", "POINTS %d" % len(rows), "DATA ascii"]
    for r, c in zip(rows, cols):
        d = float(depth_mm[r, c])
        # a point at range d along a ray: split d over x, y, z (range = d)
        x, y = 0.3 * d, -0.4 * d
        z = float(np.sqrt(d * d - x * x - y * y))
        lines.append(f"{x:.4f} {y:.4f} {z:.4f} 4.2108e+06 {r * w + c}")
    path.write_text("\n".join(lines) + "\n")


def write_cornell_rects(path: Path, corner_sets: list[np.ndarray]) -> None:
    """Each rectangle: 4 lines 'x y' (x = column, y = row)."""
    lines = []
    for corners in corner_sets:
        for row, col in corners:
            lines.append(f"{col} {row}")
    path.write_text("\n".join(lines) + "\n")
