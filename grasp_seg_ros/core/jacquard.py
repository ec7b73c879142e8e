"""The Jacquard dataset's file format: read and write.

Per sample ``<view>_<id>``: ``*_perfect_depth.tiff`` and ``*_stereo_depth.tiff`` (float32
metres, 0 = no data), ``*_mask.png`` (8-bit, 255 = object) and ``*_grasps.txt`` with one grasp
per line, ``x;y;theta;opening;jaw``: centre column and row in pixels, theta in degrees
(positive = clockwise on screen, i.e. from +column towards +row), opening and jaw size in
pixels. theta = -angle of core.grasp (which is counter-clockwise on screen).

Our synthetic samples add two sidecars that Jacquard readers ignore:

- ``*_grasps_graded.csv``: every candidate that was tried, failures included, one per line
  after a header: ``x;y;theta;opening;jaw;robustness;trials;object;width_m`` (the first five
  as in the grasps file; robustness in [0, 1] is the fraction of the candidate's gripper trials
  that held, trials = how many ran (0: wider than the gripper's stroke), object = the
  simulator's body id, width_m = the opening in metres). The grasps file holds the candidates
  whose robustness reaches the generator's threshold.
- ``*_camera.json``: the intrinsics (K, size), the camera's pose in the table frame and its
  kind and noise model, and the gripper profile of the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from grasp_seg_ros.core.rectangles import GraspRectangle

SUFFIXES = {"perfect": "_perfect_depth.tiff", "stereo": "_stereo_depth.tiff",
            "mask": "_mask.png", "grasps": "_grasps.txt", "graded": "_grasps_graded.csv",
            "camera": "_camera.json"}
GRADED_HEADER = "x;y;theta;opening;jaw;robustness;trials;object;width_m"


@dataclass(frozen=True)
class GradedRectangle:
    """A graded candidate of the sidecar file."""

    rectangle: GraspRectangle
    robustness: float
    trials: int
    object_id: int
    width_m: float


@dataclass(frozen=True)
class JacquardSample:
    """Paths of one sample; ``prefix`` is the path without a suffix."""

    prefix: Path

    def path(self, kind: str) -> Path:
        return self.prefix.with_name(self.prefix.name + SUFFIXES[kind])


def write_grasps(path: Path, rectangles: Iterable[GraspRectangle]) -> None:
    lines = [_line(r) for r in rectangles]
    Path(path).write_text("\n".join(lines) + ("\n" if lines else ""))


def _line(r: GraspRectangle) -> str:
    return (f"{r.col:.2f};{r.row:.2f};{-np.degrees(r.angle_rad):.2f};{r.opening_px:.2f};"
            f"{r.jaw_px:.2f}")


def write_graded(path: Path, graded: Iterable[GradedRectangle]) -> None:
    lines = [GRADED_HEADER] + [f"{_line(g.rectangle)};{g.robustness:.3f};{g.trials};"
                               f"{g.object_id};{g.width_m:.4f}" for g in graded]
    Path(path).write_text("\n".join(lines) + "\n")


def read_graded(path: Path) -> list[GradedRectangle]:
    lines = Path(path).read_text().splitlines()
    if not lines or lines[0].strip() != GRADED_HEADER:
        raise ValueError(f"{path}: expected the header {GRADED_HEADER!r}")
    out = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            x, y, theta, opening, jaw, rob, trials, obj, width = line.split(";")
            rect = GraspRectangle(row=float(y), col=float(x),
                                  angle_rad=float(-np.radians(float(theta))),
                                  opening_px=float(opening), jaw_px=float(jaw))
            out.append(GradedRectangle(rect, float(rob), int(trials), int(obj), float(width)))
        except ValueError:
            raise ValueError(f"{path}:{n}: expected '{GRADED_HEADER}', got {line!r}") from None
    return out


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
