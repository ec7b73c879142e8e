"""The rectangle metric of Cornell/Jacquard grasp evaluation.

A predicted grasp is correct when its rectangle overlaps some ground-truth rectangle with
IoU > 0.25 and their angles differ by less than 30 degrees (half-turn symmetric).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from grasp_seg_ros.core.grasp import Grasp2D, angle_difference
from grasp_seg_ros.core.rectangles import GraspRectangle

IOU_THRESHOLD = 0.25
ANGLE_THRESHOLD_RAD = np.radians(30.0)


def _clip(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex polygon ``subject`` inside convex ``clip``.

    Both (N, 2), counter-clockwise. Exact for touching and collinear edges, where OpenCV's
    intersectConvexConvex returns 0 for a 1/3 overlap (two parallel rectangles whose long
    edges are collinear).
    """
    out = subject
    for i in range(len(clip)):
        if len(out) == 0:
            break
        a, b = clip[i], clip[(i + 1) % len(clip)]
        edge = b - a
        side = edge[0] * (out[:, 1] - a[1]) - edge[1] * (out[:, 0] - a[0])  # >= 0: inside
        kept = []
        for j in range(len(out)):
            p, q = out[j], out[(j + 1) % len(out)]
            sp, sq = side[j], side[(j + 1) % len(out)]
            if sp >= 0:
                kept.append(p)
            if (sp >= 0) != (sq >= 0):
                kept.append(p + (q - p) * (sp / (sp - sq)))
        out = np.asarray(kept, np.float64).reshape(-1, 2)
    return out


def _area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _ccw(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    signed = float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return poly if signed >= 0 else poly[::-1]


def rectangle_iou(a: GraspRectangle, b: GraspRectangle) -> float:
    """Intersection over union of two rotated rectangles (pixel units), exact."""
    pa = _ccw(a.corners().astype(np.float64))
    pb = _ccw(b.corners().astype(np.float64))
    inter = _area(_clip(pa, pb))
    area_a, area_b = a.opening_px * a.jaw_px, b.opening_px * b.jaw_px
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def grasp_rectangle(grasp: Grasp2D, *, jaw_fraction: float = 0.5) -> GraspRectangle:
    """The rectangle of a predicted grasp: its opening, and jaws half as long (GG-CNN's)."""
    return GraspRectangle(row=grasp.row, col=grasp.col, angle_rad=grasp.angle_rad,
                          opening_px=grasp.width_px,
                          jaw_px=max(grasp.width_px * jaw_fraction, 1.0))


def is_correct(predicted: GraspRectangle, ground_truth: Sequence[GraspRectangle], *,
               iou_threshold: float = IOU_THRESHOLD,
               angle_threshold_rad: float = ANGLE_THRESHOLD_RAD) -> bool:
    """True when the prediction matches at least one ground-truth rectangle."""
    return any(angle_difference(predicted.angle_rad, gt.angle_rad) < angle_threshold_rad
               and rectangle_iou(predicted, gt) > iou_threshold for gt in ground_truth)
