"""The rectangle metric of Cornell/Jacquard grasp evaluation.

A predicted grasp is correct when its rectangle overlaps some ground-truth rectangle with
IoU > 0.25 and their angles differ by less than 30 degrees (half-turn symmetric).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from grasp_seg_ros.core.grasp import Grasp2D, angle_difference
from grasp_seg_ros.core.rectangles import GraspRectangle

IOU_THRESHOLD = 0.25
ANGLE_THRESHOLD_RAD = np.radians(30.0)


def rectangle_iou(a: GraspRectangle, b: GraspRectangle) -> float:
    """Intersection over union of two rotated rectangles (pixel units)."""
    pa = a.corners()[:, ::-1].astype(np.float32)  # (x=col, y=row) for OpenCV
    pb = b.corners()[:, ::-1].astype(np.float32)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
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
