import numpy as np
import pytest
from std_msgs.msg import Header

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import InvalidCameraInfo, InvalidDepth
from grasp_seg_ros.core.grasp import Grasp2D
from grasp_seg_ros.core.pose import GRASP_VECTOR_FIELDS, GraspPose
from grasp_seg_ros.ros import conversions as conv

HEADER = Header(frame_id="camera_depth_optical_frame")


@pytest.mark.parametrize("encoding, tol", [("16UC1", 0.0005), ("32FC1", 0.0)])
def test_depth_message_round_trip(encoding, tol):
    depth = np.random.default_rng(0).uniform(0.2, 3.0, (48, 64)).astype(np.float32)
    depth[5, 7] = np.nan
    msg = conv.depth_m_to_image(depth, HEADER, encoding)
    assert (msg.encoding, msg.height, msg.width) == (encoding, 48, 64)
    back = conv.image_to_depth_m(msg)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(depth))
    np.testing.assert_allclose(back[~np.isnan(depth)], depth[~np.isnan(depth)], atol=tol)


def test_wrong_encoding_is_an_invalid_depth():
    msg = conv.array_to_image(np.zeros((4, 4, 3), np.uint8), HEADER, "rgb8")
    with pytest.raises(InvalidDepth, match="unsupported depth encoding 'rgb8'"):
        conv.image_to_depth_m(msg)


@pytest.mark.parametrize("encoding, array", [
    ("bgr8", np.random.default_rng(1).integers(0, 255, (5, 7, 3)).astype(np.uint8)),
    ("32FC1", np.random.default_rng(2).random((5, 7)).astype(np.float32)),
    ("mono8", np.arange(35, dtype=np.uint8).reshape(5, 7)),
])
def test_image_array_round_trip(encoding, array):
    msg = conv.array_to_image(array, HEADER, encoding)
    assert msg.header.frame_id == HEADER.frame_id
    np.testing.assert_array_equal(conv.image_to_array(msg), array)


def test_camera_info_round_trip():
    intr = CameraIntrinsics(fx=385.0, fy=384.0, cx=319.5, cy=239.5, width=640, height=480)
    msg = conv.intrinsics_to_camera_info(intr, HEADER)
    assert conv.camera_info_to_intrinsics(msg) == intr


def test_uncalibrated_camera_info_is_rejected():
    intr = CameraIntrinsics(fx=385.0, fy=384.0, cx=319.5, cy=239.5, width=640, height=480)
    msg = conv.intrinsics_to_camera_info(intr, HEADER)
    msg.k = [0.0] * 9
    with pytest.raises(InvalidCameraInfo):
        conv.camera_info_to_intrinsics(msg)


def _pose():
    return GraspPose(position_m=np.array([0.1, -0.05, 0.5]),
                     quat_xyzw=np.array([0.0, 0.0, np.sin(0.25), np.cos(0.25)]),
                     angle_rad=0.5, width_m=0.04, quality=0.8, finger_depth_m=0.48,
                     image_px=(200.0, 300.0),
                     grasp_2d=Grasp2D(row=1, col=2, angle_rad=0.5, width_px=20.0, quality=0.8))


def test_grasp_vector_layout():
    msg = conv.grasp_to_vector(_pose())
    assert msg.layout.dim[0].label == ",".join(GRASP_VECTOR_FIELDS)
    assert msg.layout.dim[0].size == 7
    np.testing.assert_allclose(msg.data, [0.1, -0.05, 0.5, 0.5, 0.04, 0.8, 0.48], rtol=1e-6)


def test_pose_and_markers_carry_header_and_geometry():
    ps = conv.grasp_to_pose_stamped(_pose(), HEADER)
    assert ps.header.frame_id == HEADER.frame_id
    assert (ps.pose.position.x, ps.pose.orientation.w) == (0.1, pytest.approx(np.cos(0.25)))
    markers = conv.gripper_markers(_pose(), HEADER, finger_length_m=0.04).markers
    gripper = markers[0]
    assert gripper.header.frame_id == HEADER.frame_id and len(gripper.points) == 8
    xs = sorted({round(p.x, 6) for p in gripper.points})
    assert xs == [-0.02, 0.0, 0.02]  # fingers at +-width/2 along the closing axis


def test_camera_info_distortion_reaches_the_deprojection():
    import cv2
    # a plumb_bob lens with visible barrel distortion (k1 = -0.2)
    d = [-0.2, 0.05, 0.001, -0.002, 0.0]
    intr = CameraIntrinsics(fx=385.0, fy=384.0, cx=319.5, cy=239.5, width=640, height=480)
    msg = conv.intrinsics_to_camera_info(intr, HEADER, distortion_model="plumb_bob", d=d)
    lens = conv.camera_info_to_intrinsics(msg)
    assert lens.distortion == tuple(d) and lens.distorted
    assert conv.camera_info_to_intrinsics(conv.intrinsics_to_camera_info(lens, HEADER)) == lens
    # points near the image corner: where the raw image shows them (OpenCV's projection) ->
    # back to the same 3-D points at their depth; ignoring D would miss by centimetres
    points = np.array([[0.25, 0.18, 0.6], [-0.2, 0.1, 0.5], [0.01, -0.02, 0.7]])
    k = np.array([[385.0, 0, 319.5], [0, 384.0, 239.5], [0, 0, 1]])
    raw, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k, np.array(d))
    raw = raw.reshape(-1, 2)
    back = lens.pixel_to_point(raw[:, 1], raw[:, 0], points[:, 2])
    np.testing.assert_allclose(back, points, atol=2e-4)
    assert np.abs(intr.pixel_to_point(raw[0, 1], raw[0, 0], 0.6) - points[0]).max() > 0.01
    np.testing.assert_allclose(lens.point_to_pixel(points), raw[:, ::-1], atol=1e-3)


def test_a_distortion_the_node_cannot_undo_is_rejected_with_its_name():
    intr = CameraIntrinsics(fx=385.0, fy=384.0, cx=319.5, cy=239.5, width=640, height=480)
    msg = conv.intrinsics_to_camera_info(intr, HEADER, distortion_model="omnidirectional",
                                         d=[0.1, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(InvalidCameraInfo, match="omnidirectional"):
        conv.camera_info_to_intrinsics(msg)
    # zeros are no distortion, whatever the model is called
    msg.d = [0.0] * 5
    assert not conv.camera_info_to_intrinsics(msg).distorted


def test_instance_masks_select_one_id_or_any():
    from grasp_seg_ros.core.errors import InvalidImage
    ids = np.zeros((4, 6), np.uint16)
    ids[1, 2], ids[3, 5] = 7, 9
    msg = conv.array_to_image(ids, Header(), "16UC1")
    assert conv.image_to_mask(msg, (4, 6), 7).sum() == 1
    assert conv.image_to_mask(msg, (4, 6), 0).sum() == 2
    with pytest.raises(InvalidImage, match="6x4 but the depth image is 8x4"):
        conv.image_to_mask(msg, (4, 8), 0)
    with pytest.raises(InvalidImage, match="mono8 or 16UC1"):
        conv.image_to_mask(conv.array_to_image(ids.astype(np.float32), Header(), "32FC1"),
                           (4, 6), 0)
