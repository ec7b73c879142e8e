"""Every shipped model, end to end on a PyBullet render: a bar is grasped on it, across it."""

import numpy as np
import pybullet
import pytest
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.resources import shipped_models
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.sim.camera import CameraConfig, render

pytestmark = pytest.mark.skipif(not shipped_models(), reason="no shipped model")


@pytest.fixture(scope="module", params=shipped_models())
def detector(request):
    return GraspDetector(request.param, device="cpu")


# Known weakness, reported in the README: the depth-crop ggcnn2 learned from trial-verified
# grasps of small objects, where many closing directions lift; on a long bar it can close
# along the bar. The height-map models (ggcnn2_heightmap[_v2], pspnet_r18) must close across it.
ALONG_THE_BAR_KNOWN = {"ggcnn2"}


def render_bar(yaw_rad, xy=(0.03, -0.02), half=(0.06, 0.015, 0.015), cam=None):
    """A bar on the table seen by ``cam`` (default: the top-down camera); (camera, depth,
    the bar's pixels)."""
    cam = cam or CameraConfig()
    cid = pybullet.connect(pybullet.DIRECT)
    try:
        def box(half_extents, pos, yaw=0.0):
            shape = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half_extents,
                                                  physicsClientId=cid)
            orn = pybullet.getQuaternionFromEuler([0, 0, yaw])
            return pybullet.createMultiBody(0.0, shape, basePosition=pos, baseOrientation=orn,
                                            physicsClientId=cid)
        box([1.0, 1.0, 0.01], [0, 0, -0.01])
        bar = box(list(half), [xy[0], xy[1], half[2]], yaw_rad)
        depth, seg = render(cam, cid)
    finally:
        pybullet.disconnect(cid)
    return cam, depth, seg == bar


@pytest.mark.parametrize("yaw_deg", [0.0, 40.0, 100.0])
def test_bar_is_grasped_across(detector, yaw_deg):
    cam, depth, mask = render_bar(np.radians(yaw_deg))
    best = detector.detect(depth, cam.intrinsics()).best
    row, col = (int(round(v)) for v in best.image_px)
    assert mask[row, col], "the best grasp is not on the bar"
    # bar long axis in the camera frame: world (cos yaw, sin yaw, 0) -> optical (x, -y, -z)
    yaw = np.radians(yaw_deg)
    bar_axis = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
    closing = Rotation.from_quat(best.quat_xyzw).as_matrix()[:, 0]
    angle_to_bar = np.degrees(np.arccos(abs(closing @ bar_axis)))
    assert 0.02 < best.width_m < 0.10
    assert best.position_m[2] == pytest.approx(cam.height_m - 0.03, abs=0.01)
    if angle_to_bar <= 60.0 and detector.model_path.stem in ALONG_THE_BAR_KNOWN:
        pytest.xfail(f"{detector.model_path.stem}: closing axis {angle_to_bar:.0f} deg from "
                     "the bar's axis (known, see README)")
    assert angle_to_bar > 60.0, f"closing axis {angle_to_bar:.0f} deg from the bar's axis"


@pytest.mark.parametrize("yaw_deg,height_m,tilt_deg", [(0.0, 0.45, 25.0), (40.0, 0.8, 30.0),
                                                       (100.0, 0.35, 0.0)])
def test_height_map_models_grasp_the_bar_across_from_other_cameras(detector, yaw_deg, height_m,
                                                                   tilt_deg):
    """A height-map model sees the same bar from a camera at another height and tilt."""
    if detector.metadata.height_map is None:
        pytest.skip("a depth-crop model: trained for the top-down camera at 0.55 m")
    from grasp_seg_ros.sim.camera import camera_model
    yaw = np.radians(yaw_deg)
    cam, depth, mask = render_bar(yaw, xy=(0.0, 0.0),
                                  cam=camera_model("d435", height_m=height_m, tilt_deg=tilt_deg))
    best = detector.detect(depth, cam.intrinsics()).best
    row, col = (int(round(v)) for v in best.image_px)
    assert mask[max(row - 2, 0):row + 3, max(col - 2, 0):col + 3].any(), \
        "the best grasp is not on the bar"
    bar_axis = cam.rotation.T @ np.array([np.cos(yaw), np.sin(yaw), 0.0])  # world -> optical
    axes = Rotation.from_quat(best.quat_xyzw).as_matrix()
    angle_to_bar = np.degrees(np.arccos(abs(axes[:, 0] @ bar_axis)))
    assert angle_to_bar > 60.0, f"closing axis {angle_to_bar:.0f} deg from the bar's axis"
    table_normal = cam.rotation.T @ np.array([0.0, 0.0, 1.0])
    # approach: down (clipped: a unit dot product can round to just above 1)
    assert np.degrees(np.arccos(np.clip(-axes[:, 2] @ table_normal, -1.0, 1.0))) < 2.0
    assert 0.02 < best.width_m < 0.085
