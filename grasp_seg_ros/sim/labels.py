"""Geometric grasp labels from object masks (no gripper trial).

Across the narrow side of each object's minimum-area rectangle, at several points along its
long side. Right for boxes, cylinders and spheres seen from above; only a stand-in for
trial-verified labels on irregular shapes.
"""

from __future__ import annotations

import cv2
import numpy as np

from grasp_seg_ros.core.rectangles import GraspRectangle


def mask_rectangles(mask: np.ndarray, *, margin_px: float = 4.0, samples: int = 5,
                    min_area_px: int = 30) -> list[GraspRectangle]:
    """Grasp rectangles for one object mask (bool, image pixels)."""
    if int(mask.sum()) < min_area_px:
        return []
    pts = np.column_stack(np.nonzero(mask))[:, ::-1].astype(np.float32)  # (x=col, y=row)
    (cx, cy), (w, h), deg = cv2.minAreaRect(pts)
    # OpenCV: side w runs along angle `deg` (clockwise on screen as y points down)
    theta = np.radians(deg)
    along_w = np.array([np.cos(theta), np.sin(theta)])   # (col, row)
    along_h = np.array([-np.sin(theta), np.cos(theta)])
    if w <= h:
        closing, short, long_dir, long = along_w, w, along_h, h
    else:
        closing, short, long_dir, long = along_h, h, along_w, w
    # convention of core.grasp: closing (d_row, d_col) = (-sin a, cos a)
    angle = float(np.arctan2(-closing[1], closing[0]))
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2
    rects = []
    spread = max(long - short, 0.0) * 0.4
    for t in np.linspace(-spread, spread, samples) if spread > 1 else [0.0]:
        c = np.array([cx, cy]) + long_dir * t
        rects.append(GraspRectangle(row=float(c[1]), col=float(c[0]), angle_rad=angle,
                                    opening_px=float(short + 2 * margin_px),
                                    jaw_px=float(max(short * 0.5, 4.0))))
    if abs(long - short) < 0.15 * long:  # round-ish: any closing direction works
        for extra in np.linspace(-np.pi / 2, np.pi / 2, 6, endpoint=False):
            rects.append(GraspRectangle(row=float(cy), col=float(cx), angle_rad=float(extra),
                                        opening_px=float(short + 2 * margin_px),
                                        jaw_px=float(max(short * 0.5, 4.0))))
    return rects
