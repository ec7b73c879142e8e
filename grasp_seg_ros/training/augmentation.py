"""Training augmentation, all of it: random changes of a full depth image and its grasp
rectangles (depth-crop datasets), moves of a height map's grid (height-map datasets), and
mirroring of ready-made input/target batches (the in-memory trainer). Nothing here runs at
evaluation or inference."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from grasp_seg_ros.core.rectangles import GraspRectangle


@dataclass(frozen=True)
class Augmentation:
    """Random changes for training: rotation, zoom, flips, depth noise and holes."""

    rotation_deg: float = 180.0       # uniform in +-rotation_deg about the crop centre
    zoom: tuple[float, float] = (0.8, 1.0)  # crop size factor (smaller = zoom in)
    max_shift_px: int = 30            # crop centre offset
    flip: bool = True                 # horizontal and vertical, each with p = 0.5
    noise_m: float = 0.002            # std of Gaussian depth noise
    holes: int = 4                    # up to this many elliptic holes
    hole_size_px: tuple[int, int] = (3, 15)


def rotate_sample(depth: np.ndarray, rects: list[GraspRectangle], centre_rc: tuple[float, float],
                  angle_rad: float) -> tuple[np.ndarray, list[GraspRectangle]]:
    """Rotate the image content counter-clockwise (on screen) about centre_rc; holes stay NaN."""
    h, w = depth.shape
    m = cv2.getRotationMatrix2D((float(centre_rc[1]), float(centre_rc[0])),
                                float(np.degrees(angle_rad)), 1.0)
    holes = ~np.isfinite(depth)
    filled = np.where(holes, 0.0, depth).astype(np.float32)
    out = cv2.warpAffine(filled, m, (w, h), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    out_holes = cv2.warpAffine(holes.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=1)
    out[out_holes.astype(bool)] = np.nan
    new_rects = []
    for r in rects:
        col, row = m @ np.array([r.col, r.row, 1.0])
        a = (r.angle_rad + angle_rad + np.pi / 2) % np.pi - np.pi / 2
        new_rects.append(GraspRectangle(float(row), float(col), float(a), r.opening_px,
                                        r.jaw_px))
    return out, new_rects


def flip_sample(depth: np.ndarray, rects: list[GraspRectangle], *,
                horizontal: bool) -> tuple[np.ndarray, list[GraspRectangle]]:
    """Mirror left-right (horizontal) or top-bottom; a mirror negates every angle."""
    h, w = depth.shape
    out = depth[:, ::-1] if horizontal else depth[::-1, :]
    new = []
    for r in rects:
        row, col = (r.row, w - 1 - r.col) if horizontal else (h - 1 - r.row, r.col)
        a = (-r.angle_rad + np.pi / 2) % np.pi - np.pi / 2
        new.append(GraspRectangle(row, col, float(a), r.opening_px, r.jaw_px))
    return np.ascontiguousarray(out), new


def augment_sample(depth: np.ndarray, rects: list[GraspRectangle],
                   centre: tuple[float, float], crop_size: int, aug: Augmentation,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, list[GraspRectangle], tuple[float, float], int]:
    """One random change of a sample: (depth, rectangles, crop centre, crop size) after it."""
    angle = float(rng.uniform(-1, 1) * np.radians(aug.rotation_deg))
    depth, rects = rotate_sample(depth, rects, centre, angle)
    if aug.flip and rng.random() < 0.5:
        depth, rects = flip_sample(depth, rects, horizontal=True)
        centre = (centre[0], depth.shape[1] - 1 - centre[1])
    if aug.flip and rng.random() < 0.5:
        depth, rects = flip_sample(depth, rects, horizontal=False)
        centre = (depth.shape[0] - 1 - centre[0], centre[1])
    crop_size = int(round(crop_size * rng.uniform(*aug.zoom)))
    shift = rng.integers(-aug.max_shift_px, aug.max_shift_px, size=2, endpoint=True)
    centre = (centre[0] + shift[0], centre[1] + shift[1])
    depth = depth + rng.normal(0.0, aug.noise_m, depth.shape).astype(np.float32)
    for _ in range(int(rng.integers(0, aug.holes, endpoint=True))):
        axes = rng.integers(*aug.hole_size_px, size=2, endpoint=True)
        c = (int(rng.integers(0, depth.shape[1])), int(rng.integers(0, depth.shape[0])))
        mask = np.zeros(depth.shape, np.uint8)
        cv2.ellipse(mask, c, (int(axes[0]), int(axes[1])),
                    float(rng.uniform(0, 180)), 0, 360, 1, -1)
        depth[mask.astype(bool)] = np.nan
    return depth, rects, centre, crop_size


@dataclass(frozen=True)
class GridAugmentation:
    """Moves of the grid before rendering (training only)."""

    rotation_deg: float = 180.0   #: uniform turn about the plane's normal, +-
    mirror: bool = True           #: columns reversed with p = 0.5
    max_shift_px: int = 20        #: grid centre moved by up to this many cells


def grid_move(aug: GridAugmentation, rng: np.random.Generator) -> dict:
    """One random move of a height map's grid (HeightMapGrid.moved's arguments)."""
    return {"shift_px": tuple(rng.integers(-aug.max_shift_px, aug.max_shift_px, 2,
                                           endpoint=True).astype(float)),
            "rotation_rad": float(rng.uniform(-1, 1) * np.radians(aug.rotation_deg)),
            "mirror": bool(aug.mirror and rng.random() < 0.5)}


def flip_map_batch(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a batch of inputs (N, 1, S, S) and cos/sin targets (N, 4, S, S) left-right: the
    labels stay exact, and mirroring negates the angle (sin 2a changes sign)."""
    x, y = x.flip(-1), y.flip(-1).clone()
    y[:, 2] = -y[:, 2]
    return x, y
