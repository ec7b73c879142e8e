"""Grasp selection: transforms, workspace box, mask and finger clearance, on real frames."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.selection import Clearance, GraspSelection, RigidTransform, WorkspaceBox
from grasp_seg_ros.inference.detector import GraspDetector

INTR = CameraIntrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)


def scene(*boxes):
    depth = np.full((480, 640), 0.60, np.float32)
    for r0, r1, c0, c1, z in boxes:
        depth[r0:r1, c0:c1] = z
    return depth


def test_transform_of_a_pose_moves_position_and_axes_together():
    rot = Rotation.from_euler("xyz", [170, 10, -30], degrees=True)
    t = RigidTransform.from_translation_quaternion([0.1, -0.2, 0.9], rot.as_quat())
    p = np.array([0.05, 0.02, 0.5])
    q = Rotation.from_euler("z", 40, degrees=True).as_quat()
    p2, q2 = t.apply_pose(p, q)
    np.testing.assert_allclose(p2, rot.apply(p) + [0.1, -0.2, 0.9])
    np.testing.assert_allclose(Rotation.from_quat(q2).as_matrix(),
                               rot.as_matrix() @ Rotation.from_quat(q).as_matrix(), atol=1e-12)


@pytest.mark.parametrize("t, q", [([0, 0], [0, 0, 0, 1]), ([0, 0, 0], [0, 0, 0, 2]),
                                  ([0, 0, np.nan], [0, 0, 0, 1]), ([0, 0, 0], [0, 0, 1])])
def test_bad_transforms_are_refused(t, q):
    with pytest.raises(ValueError):
        RigidTransform.from_translation_quaternion(t, q)


def test_workspace_box_checks_its_corners():
    with pytest.raises(ValueError, match="below its maximum"):
        WorkspaceBox((0, 0, 0), (1, 0, 1))
    box = WorkspaceBox((0, 0, 0), (1, 1, 1))
    assert box.contains(np.array([[0.5, 0.5, 0.5], [1.5, 0.5, 0.5]])).tolist() == [True, False]


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    from helpers import nearest_surface_model
    return GraspDetector(nearest_surface_model(tmp_path_factory.mktemp("m") / "n.safetensors"),
                         device="cpu")


def test_workspace_and_mask_move_the_grasp_to_the_allowed_object(detector):
    tall, short = (200, 240, 330, 345, 0.50), (300, 340, 200, 215, 0.52)
    depth = scene(tall, short)

    def best_px(selection):
        return detector.detect(depth, INTR, selection=selection).best.image_px
    row, col = best_px(None)
    assert 200 <= row < 240 and 330 <= col < 345
    # a box around the short object, in a frame turned upside down and shifted
    to_base = RigidTransform.from_translation_quaternion(
        [0.1, 0.2, 0.9], Rotation.from_euler("x", 180, degrees=True).as_quat())
    centre = to_base.apply(INTR.pixel_to_point(320, 207, 0.52))
    box = WorkspaceBox(tuple(centre - 0.04), tuple(centre + 0.04))
    det = detector.detect(depth, INTR, selection=GraspSelection(workspace=box,
                                                                to_frame=to_base))
    for g in det.grasps:
        assert box.contains(to_base.apply(g.position_m))
    row, col = det.best.image_px
    assert 300 <= row < 340 and 200 <= col < 215
    # the quality map is zero outside the box
    assert det.maps.quality[:150].max() == 0.0
    mask = np.zeros(depth.shape, bool)
    mask[300:340, 200:215] = True
    row, col = best_px(GraspSelection(mask=mask))
    assert 300 <= row < 340 and 200 <= col < 215
    with pytest.raises(NoGraspFound, match="on the mask"):
        detector.detect(depth, INTR, selection=GraspSelection(mask=np.zeros_like(mask)))


def test_clearance_sees_a_neighbour_beside_the_fingers():
    from grasp_seg_ros.core.grasp import Grasp2D
    from grasp_seg_ros.core.pose import grasp_to_pose
    from grasp_seg_ros.core.preprocess import CropSpec, InputNormalisation, preprocess
    clearance = Clearance(finger_thickness_m=0.01, finger_width_m=0.02, reach_m=0.01)

    def blocked(depth):
        pre = preprocess(depth, CropSpec(), InputNormalisation())
        # a grasp at the middle of the 15 px bar (network = image pixels here), 30 px wide
        g = Grasp2D(row=220 - pre.crop.top, col=337 - pre.crop.left, angle_rad=0.0,
                    width_px=30.0, quality=1.0)
        return clearance.blocked(grasp_to_pose(g, pre.depth_m, pre.crop, INTR), depth, INTR)
    bar = (200, 240, 330, 345, 0.50)
    assert not blocked(scene(bar))                                   # table beside it
    assert blocked(scene(bar, (200, 240, 352, 380, 0.505)))         # a box where a finger goes
    assert not blocked(scene(bar, (200, 240, 352, 380, 0.55)))      # lower than the reach
    assert blocked(scene((200, 240, 300, 380, 0.50)))               # wider than the opening
    noisy = scene(bar)
    noisy[220, 356] = 0.40                                          # one flying pixel
    assert not blocked(noisy)
