"""The angle convention end to end: bar in the image -> maps -> grasp -> 3-D pose."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.grasp import DecodeParams, OutputScaling, detect_grasps, filter_maps
from grasp_seg_ros.core.pose import depth_between_fingers, grasp_to_pose
from grasp_seg_ros.core.preprocess import CropSpec, InputNormalisation, preprocess
from grasp_seg_ros.core.rectangles import GraspRectangle, draw_training_maps

INTR = CameraIntrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
TABLE_M, BAR_TOP_M = 0.60, 0.55


def bar_scene(centre_rc, bar_angle_rad, length_px=140, thickness_px=24):
    """Depth of a bar lying on a table; its long axis at bar_angle_rad (CCW on screen)."""
    import cv2
    depth = np.full((480, 640), TABLE_M, np.float32)
    along = np.array([-np.sin(bar_angle_rad), np.cos(bar_angle_rad)])  # (row, col)
    across = np.array([np.cos(bar_angle_rad), np.sin(bar_angle_rad)])
    c = np.asarray(centre_rc, float)
    corners = [c + sa * along * length_px / 2 + sb * across * thickness_px / 2
               for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    mask = np.zeros(depth.shape, np.uint8)
    cv2.fillPoly(mask, [np.rint(np.array(corners)[:, ::-1]).astype(np.int32)], 1)
    depth[mask.astype(bool)] = BAR_TOP_M
    return depth


@pytest.mark.parametrize("bar_deg", [0.0, 30.0, 75.0, 90.0, -45.0])
@pytest.mark.parametrize("crop", [CropSpec(300), CropSpec(400, 10, -20)])
def test_bar_gives_a_pose_across_it_at_its_centre(bar_deg, crop):
    bar = np.radians(bar_deg)
    centre_rc = (250.0, 300.0)
    depth = bar_scene(centre_rc, bar)
    pre = preprocess(depth, crop, InputNormalisation())
    # the label a perfect network would output: a grasp across the bar at its centre
    r, c = pre.crop.from_image(*centre_rc)
    rect = GraspRectangle(row=float(r), col=float(c), angle_rad=bar + np.pi / 2,
                          opening_px=40 / pre.crop.scale, jaw_px=12 / pre.crop.scale)
    maps = draw_training_maps([rect], pre.depth_m.shape, OutputScaling())
    filtered = filter_maps(*maps, OutputScaling(), DecodeParams())
    grasp = detect_grasps(filtered, DecodeParams())[0]
    pose = grasp_to_pose(grasp, pre.depth_m, pre.crop, INTR)

    # expected, from pinhole geometry alone
    expected_pos = np.array([(centre_rc[1] - INTR.cx) * BAR_TOP_M / INTR.fx,
                             (centre_rc[0] - INTR.cy) * BAR_TOP_M / INTR.fy, BAR_TOP_M])
    np.testing.assert_allclose(pose.position_m, expected_pos, atol=0.004)
    bar_axis_cam = np.array([np.cos(bar), -np.sin(bar), 0.0])  # image (d_col, d_row) -> (x, y)
    rot = Rotation.from_quat(pose.quat_xyzw).as_matrix()
    closing, approach = rot[:, 0], rot[:, 2]
    np.testing.assert_allclose(approach, [0.0, 0.0, 1.0], atol=1e-9)
    assert abs(closing @ bar_axis_cam) < np.sin(np.radians(3))  # fingers close across the bar
    np.testing.assert_allclose(rot[:, 1], np.cross(approach, closing), atol=1e-9)
    assert pose.width_m == pytest.approx(40 * BAR_TOP_M / INTR.fx, rel=0.1)
    assert pose.finger_depth_m == pytest.approx(BAR_TOP_M, abs=1e-3)


def test_depth_between_fingers_finds_the_nearest_surface():
    from grasp_seg_ros.core.grasp import Grasp2D
    depth = np.full((100, 100), 0.6, np.float32)
    depth[50, 60] = 0.45  # something between the fingers, off-centre
    g = Grasp2D(row=50, col=50, angle_rad=0.0, width_px=30.0, quality=1.0)
    assert depth_between_fingers(depth, g) == pytest.approx(0.45)
    g_vertical = Grasp2D(row=50, col=50, angle_rad=np.pi / 2, width_px=30.0, quality=1.0)
    assert depth_between_fingers(depth, g_vertical) == pytest.approx(0.6)


def test_non_finite_grasps_give_a_non_finite_pose_instead_of_an_exception():
    from grasp_seg_ros.core.grasp import Grasp2D
    from grasp_seg_ros.core.preprocess import Crop
    depth = np.full((300, 300), 0.5, np.float32)
    crop = Crop(top=90, left=170, size_px=300, output_size_px=300)
    for angle, width in ((np.nan, 20.0), (0.3, np.nan), (0.3, np.inf)):
        g = Grasp2D(row=150, col=150, angle_rad=angle, width_px=width, quality=1.0)
        assert not grasp_to_pose(g, depth, crop, INTR).is_finite()
