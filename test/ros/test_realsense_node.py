"""realsense_camera over real DDS: a recording in, realsense-ros topics out, the detector after.

The recordings are made by pyrealsense2's software device and recorder (no camera here);
the node plays them through the same pipeline a live camera uses.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.realsense.recording import write_recording
from grasp_seg_ros.ros import conversions as conv
from helpers import box_scene
from node_harness import START_TIMEOUT_S, start_detector, stop

INTR = CameraIntrinsics(fx=385.5, fy=384.75, cx=320.25, cy=241.5, width=640, height=480)
COEFFS = (0.03125, -0.015625, 0.0, 0.0, 0.0078125)
ROOT = Path(__file__).resolve().parents[2]
DEPTH_TOPIC = "/camera/camera/depth/image_rect_raw"
INFO_TOPIC = "/camera/camera/depth/camera_info"


def scene_raw(units_m=0.0001):
    """A box on a table (box_scene, metres; holes become 0) as raw z16 in the given units."""
    return np.rint(np.nan_to_num(box_scene(), nan=0.0) / units_m).astype(np.uint16)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rs") / "box.db3"
    write_recording(path, [scene_raw()] * 30, INTR, depth_units_m=0.0001, fps=30,
                    coeffs=COEFFS, paced=True)
    return path


def start_camera(log_path, *params, params_file=None):
    args = [sys.executable, "-m", "grasp_seg_ros.ros.realsense_node", "--ros-args"]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    for p in params:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)


class Listener:
    def __init__(self):
        self.node = rclpy.create_node("realsense_test_listener")
        self.images, self.infos, self.poses = [], [], []
        self.node.create_subscription(Image, DEPTH_TOPIC, self.images.append,
                                      qos_profile_sensor_data)
        self.node.create_subscription(CameraInfo, INFO_TOPIC, self.infos.append,
                                      qos_profile_sensor_data)
        self.node.create_subscription(PoseStamped, "/grasp_pose", self.poses.append,
                                      QoSProfile(depth=10,
                                                 reliability=ReliabilityPolicy.RELIABLE))

    def spin_until(self, predicate, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not predicate():
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return predicate()

    def close(self):
        self.node.destroy_node()


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


def test_depth_and_camera_info_come_through_exactly(recording, listener, tmp_path):
    cam = start_camera(tmp_path / "cam.log", f"playback_file:={recording}",
                       "playback_loop:=true")
    try:
        assert listener.spin_until(lambda: listener.images and listener.infos,
                                   START_TIMEOUT_S), (tmp_path / "cam.log").read_text()
    finally:
        assert stop(cam) == 0
    img, info = listener.images[-1], listener.infos[-1]
    assert img.encoding == "16UC1"
    assert img.header.frame_id == info.header.frame_id == "camera_depth_optical_frame"
    # raw units of 0.1 mm in the file -> millimetres on the topic
    expected_mm = np.rint(scene_raw() * 0.1).astype(np.uint16)
    np.testing.assert_array_equal(conv.image_to_array(img), expected_mm)
    assert (info.width, info.height) == (640, 480)
    np.testing.assert_allclose(info.k, [INTR.fx, 0, INTR.cx, 0, INTR.fy, INTR.cy, 0, 0, 1],
                               rtol=1e-6)
    assert info.distortion_model == "plumb_bob"
    np.testing.assert_allclose(info.d, COEFFS, rtol=1e-6)


def test_playback_end_stops_the_node_cleanly(recording, tmp_path):
    log = tmp_path / "cam.log"
    # the shipped parameters file, with the recording given on the command line
    cam = start_camera(log, f"playback_file:={recording}", "playback_realtime:=false",
                       params_file=ROOT / "config" / "realsense.yaml")
    try:
        code = cam.wait(START_TIMEOUT_S)
    finally:
        stop(cam, signal.SIGKILL)
    assert code == 0, log.read_text()
    assert "ended after 30 frames" in log.read_text()


def test_decimation_parameter_halves_published_size(recording, listener, tmp_path):
    cam = start_camera(tmp_path / "cam.log", f"playback_file:={recording}",
                       "playback_loop:=true", "decimation_filter.enable:=true")
    try:
        assert listener.spin_until(lambda: listener.infos and listener.images,
                                   START_TIMEOUT_S), (tmp_path / "cam.log").read_text()
    finally:
        stop(cam)
    assert (listener.infos[-1].width, listener.infos[-1].height) == (320, 240)
    assert (listener.images[-1].width, listener.images[-1].height) == (320, 240)
    assert listener.infos[-1].k[0] == pytest.approx(INTR.fx / 2, rel=1e-6)


@pytest.mark.parametrize("params, named", [
    (("playback_file:=/nonexistent/take1.db3",), "take1.db3"),
    (("serial_no:=999-not-attached",), "999-not-attached"),
    (("playback_file:=/tmp/x.db3", "record_file:=/tmp/y.db3"), "record_file"),
])
def test_start_up_errors_name_the_cause(params, named, tmp_path):
    log = tmp_path / "cam.log"
    cam = start_camera(log, *params)
    try:
        code = cam.wait(START_TIMEOUT_S)
    finally:
        stop(cam, signal.SIGKILL)
    assert code == 1
    assert named in log.read_text()


def test_detector_grasps_from_the_realsense_node(recording, listener, model, tmp_path):
    det = start_detector(model, tmp_path / "det.log",
                         "-r", f"depth/image_raw:={DEPTH_TOPIC}",
                         "-r", f"depth/camera_info:={INFO_TOPIC}")
    cam = start_camera(tmp_path / "cam.log", f"playback_file:={recording}",
                       "playback_loop:=true")
    try:
        ok = listener.spin_until(lambda: listener.poses, 2 * START_TIMEOUT_S)
    finally:
        stop(cam)
        stop(det)
    assert ok, (tmp_path / "det.log").read_text()[-3000:]
    pose = listener.poses[-1]
    assert pose.header.frame_id == "camera_depth_optical_frame"
    # box_scene's box top is nearer than the table; the grasp sits on it, inside the image
    assert 0.45 < pose.pose.position.z < 0.65
