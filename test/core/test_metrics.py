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


def test_parallel_rectangles_with_collinear_edges_overlap_by_a_third():
    # OpenCV's intersectConvexConvex returned 0.0 here: shifted 5 px along the 10 px jaw axis
    # (the jaws run at (cos a, sin a) in (row, col)), the long edges are collinear and the
    # overlap is 60 x 5 of 60 x 10 each: IoU = 300 / 900
    a = GraspRectangle(100.0, 100.0, np.radians(10), 60.0, 10.0)
    jaws = np.array([np.cos(a.angle_rad), np.sin(a.angle_rad)]) * 5.0
    b = GraspRectangle(100.0 + jaws[0], 100.0 + jaws[1], a.angle_rad, 60.0, 10.0)
    assert rectangle_iou(a, b) == pytest.approx(1.0 / 3.0, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_iou_matches_a_rasterised_overlap(seed):
    rng = np.random.default_rng(seed)
    import cv2
    for _ in range(40):
        rects = [GraspRectangle(float(rng.uniform(80, 120)), float(rng.uniform(80, 120)),
                                float(rng.uniform(-np.pi, np.pi)),
                                float(rng.uniform(20, 60)), float(rng.uniform(8, 30)))
                 for _ in range(2)]
        masks = []
        for r in rects:  # 8x supersampled raster of each rectangle
            m = np.zeros((1600, 1600), np.uint8)
            cv2.fillPoly(m, [np.rint(r.corners()[:, ::-1] * 8).astype(np.int32)], 1)
            masks.append(m.astype(bool))
        raster = (masks[0] & masks[1]).sum() / max((masks[0] | masks[1]).sum(), 1)
        assert rectangle_iou(*rects) == pytest.approx(raster, abs=0.02)
        assert rectangle_iou(*rects) == pytest.approx(rectangle_iou(*rects[::-1]), abs=1e-9)
