import numpy as np
import pytest

from grasp_seg_ros.core.grasp import Grasp2D
from grasp_seg_ros.core.metrics import grasp_rectangle, is_correct, rectangle_iou
from grasp_seg_ros.core.rectangles import GraspRectangle

GT = GraspRectangle(row=100.0, col=100.0, angle_rad=0.2, opening_px=40.0, jaw_px=20.0)


def test_identical_rectangles_are_correct():
    assert rectangle_iou(GT, GT) == pytest.approx(1.0, abs=1e-6)
    assert is_correct(GT, [GT])


def test_rotated_45_degrees_is_wrong_even_if_overlapping():
    rotated = GraspRectangle(100.0, 100.0, 0.2 + np.radians(45), 40.0, 20.0)
    assert rectangle_iou(rotated, GT) > 0.25
    assert not is_correct(rotated, [GT])


def test_shifted_rectangle_has_the_expected_iou():
    # axis-aligned: a 10 px shift along the 40 px opening leaves 30 x 20 of overlap
    a = GraspRectangle(50.0, 50.0, 0.0, 40.0, 20.0)
    b = GraspRectangle(50.0, 60.0, 0.0, 40.0, 20.0)
    assert rectangle_iou(a, b) == pytest.approx(600 / (800 + 800 - 600), abs=1e-3)
    far = GraspRectangle(50.0, 85.0, 0.0, 40.0, 20.0)  # 5 x 20 overlap: IoU 100/1500
    assert rectangle_iou(a, far) == pytest.approx(100 / 1500, abs=1e-3)
    assert is_correct(b, [a]) and not is_correct(far, [a])


def test_angle_is_half_turn_symmetric_in_the_metric():
    flipped = GraspRectangle(100.0, 100.0, 0.2 - np.pi, 40.0, 20.0)
    assert is_correct(flipped, [GT])


def test_any_ground_truth_rectangle_may_match():
    other = GraspRectangle(10.0, 10.0, 1.0, 30.0, 15.0)
    assert is_correct(GT, [other, GT]) and not is_correct(GT, [other])


def test_grasp_rectangle_uses_width_and_half_jaws():
    rect = grasp_rectangle(Grasp2D(row=5, col=6, angle_rad=0.3, width_px=30.0, quality=0.9))
    assert (rect.row, rect.col, rect.angle_rad, rect.opening_px, rect.jaw_px) == \
        (5, 6, 0.3, 30.0, 15.0)
