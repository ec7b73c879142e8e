"""The Jacquard dataset's file format: read and write.

Per sample ``<view>_<id>``: ``*_perfect_depth.tiff`` and ``*_stereo_depth.tiff`` (float32
metres, 0 = no data), ``*_mask.png`` (8-bit, 255 = object) and ``*_grasps.txt`` with one grasp
per line, ``x;y;theta;opening;jaw``: centre column and row in pixels, theta in degrees
(positive = clockwise on screen, i.e. from +column towards +row), opening and jaw size in
pixels. theta = -angle of core.grasp (which is counter-clockwise on screen).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from grasp_seg_ros.core.rectangles import GraspRectangle

SUFFIXES = {"perfect": "_perfect_depth.tiff", "stereo": "_stereo_depth.tiff",
            "mask": "_mask.png", "grasps": "_grasps.txt"}


@dataclass(frozen=True)
class JacquardSample:
    """Paths of one sample; ``prefix`` is the path without a suffix."""

    prefix: Path

    def path(self, kind: str) -> Path:
        return self.prefix.with_name(self.prefix.name + SUFFIXES[kind])


def write_grasps(path: Path, rectangles: Iterable[GraspRectangle]) -> None:
    lines = [f"{r.col:.2f};{r.row:.2f};{-np.degrees(r.angle_rad):.2f};{r.opening_px:.2f};"
             f"{r.jaw_px:.2f}" for r in rectangles]
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


def read_grasps(path: Path) -> list[GraspRectangle]:
    rects = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            x, y, theta, opening, jaw = (float(v) for v in line.split(";"))
        except ValueError:
            raise ValueError(f"{path}:{n}: expected 'x;y;theta;opening;jaw', got {line!r}") \
                from None
        rects.append(GraspRectangle(row=y, col=x, angle_rad=float(-np.radians(theta)),
                                    opening_px=opening, jaw_px=jaw))
    return rects


def write_depth(path: Path, depth_m: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.nan_to_num(depth_m, nan=0.0).astype(np.float32)):
        raise OSError(f"could not write {path}")


def read_depth(path: Path) -> np.ndarray:
    """Metres, NaN = no data."""
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise OSError(f"could not read depth image {path}")
    depth = depth.astype(np.float32)
    depth[~(depth > 0)] = np.nan
    return depth


def write_mask(path: Path, mask: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.where(mask, 255, 0).astype(np.uint8)):
        raise OSError(f"could not write {path}")


def read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise OSError(f"could not read mask {path}")
    return mask > 127


def find_samples(root: Path) -> list[JacquardSample]:
    """Every sample with a grasps file under ``root``, sorted."""
    return [JacquardSample(p.with_name(p.name[:-len(SUFFIXES["grasps"])]))
            for p in sorted(Path(root).rglob(f"*{SUFFIXES['grasps']}"))]
