"""Grasp rectangles (Cornell/Jacquard labels) and the training maps drawn from them.

A rectangle is centred at (row, col), its ``opening_px`` side runs along the closing
direction (angle convention of core.grasp) and its ``jaw_px`` side along the jaws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from grasp_seg_ros.core.grasp import OutputScaling, encode_angle


@dataclass(frozen=True)
class GraspRectangle:
    row: float
    col: float
    angle_rad: float
    opening_px: float
    jaw_px: float

    def corners(self, *, opening_fraction: float = 1.0) -> np.ndarray:
        """(4, 2) corners as (row, col); ``opening_fraction`` shrinks the opening side."""
        closing = np.array([-np.sin(self.angle_rad), np.cos(self.angle_rad)])
        jaws = np.array([np.cos(self.angle_rad), np.sin(self.angle_rad)])
        a = closing * 0.5 * self.opening_px * opening_fraction
        b = jaws * 0.5 * self.jaw_px
        c = np.array([self.row, self.col])
        return np.stack([c - a - b, c + a - b, c + a + b, c - a + b])


def draw_training_maps(rectangles: Iterable[GraspRectangle], shape: tuple[int, int],
                       scaling: OutputScaling, *,
                       centre_fraction: float = 1.0 / 3.0) -> np.ndarray:
    """(4, H, W) float32 targets (quality, cos 2a, sin 2a, raw width), GG-CNN style.

    Each rectangle's centre third along the opening is marked graspable; where rectangles
    overlap the one drawn last wins, as in the reference implementation.
    """
    maps = np.zeros((4, *shape), np.float32)
    for rect in rectangles:
        mask = np.zeros(shape, np.uint8)
        pts = rect.corners(opening_fraction=centre_fraction)[:, ::-1]  # (col, row) for OpenCV
        cv2.fillPoly(mask, [np.rint(pts).astype(np.int32)], 1)
        sel = mask.astype(bool)
        cos2, sin2 = encode_angle(np.float32(rect.angle_rad))
        maps[0][sel] = 1.0
        maps[1][sel] = cos2
        maps[2][sel] = sin2
        maps[3][sel] = scaling.encode_width(np.float32(rect.opening_px))
    return maps
