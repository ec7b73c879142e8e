"""grasp_detector as its own process, over real DDS (Fast DDS from the ROS wheels)."""

import signal
import subprocess
import sys

import numpy as np
import pytest
import rclpy
from scipy.spatial.transform import Rotation

from helpers import box_scene
from node_harness import FRAME_ID, INTR, set_parameter, start_detector, stop

START_TIMEOUT_S = 90.0  # importing torch and discovery on a loaded 2-core machine


def test_publishes_grasp_with_the_input_header(detector, client):
    proc, log = detector
    depth = box_scene()
    assert client.spin_until(lambda: client.received["pose"] and client.received["overlay"],
                             START_TIMEOUT_S, publish=lambda: client.publish(depth)), \
        log.read_text()
    pose = client.received["pose"][0]
    assert pose.header.frame_id == FRAME_ID
    assert (pose.header.stamp.sec, pose.header.stamp.nanosec) in client.sent_stamps
    # the box top (rows 200-240, cols 330-360 at 0.5 m) is the nearest surface
    p = np.array([pose.pose.position.x, pose.pose.position.y, pose.pose.position.z])
    row, col = INTR.point_to_pixel(p)
    assert 200 <= row < 240 and 330 <= col < 360 and p[2] == pytest.approx(0.5, abs=0.01)
    # the test model predicts angle 0: fingers close along the image rows' direction (+x)
    q = pose.pose.orientation
    closing = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()[:, 0]
    assert abs(closing[0]) == pytest.approx(1.0, abs=1e-3)
    client.spin_until(lambda: all(client.received[k] for k in
                                  ("poses", "vector", "markers", "quality")), 10.0)
    vec = client.received["vector"][0]
    assert len(vec.data) == 7 and np.isfinite(vec.data).all()
    assert vec.data[4] == pytest.approx(30 * 0.5 / INTR.fx, rel=0.15)  # width_m
    for key in ("poses", "markers", "quality", "overlay"):
        msg = client.received[key][0]
        header = msg.header if hasattr(msg, "header") else msg.markers[0].header
        assert header.frame_id == FRAME_ID
    quality = client.received["quality"][0]
    assert (quality.encoding, quality.height, quality.width) == ("32FC1", 300, 300)
    assert client.received["overlay"][0].encoding == "bgr8"
    assert stop(proc) == 0
    assert "Traceback" not in log.read_text()


def test_without_camera_info_nothing_is_published(detector, client):
    proc, log = detector
    depth = box_scene()
    assert client.spin_until(lambda: "no valid CameraInfo" in log.read_text(), START_TIMEOUT_S,
                             publish=lambda: client.publish(depth, info=False))

    def skipped() -> int:
        for msg in reversed(client.received["diagnostics"]):
            values = {kv.key: kv.value for kv in msg.status[0].values}
            if "frames_skipped" in values:
                return int(values["frames_skipped"])
        return 0
    # frames reach the node and every one is skipped: none becomes a grasp. The node's
    # /diagnostics publisher is matched by discovery like any other topic, which on a loaded
    # 2-core machine can take longer than the frames do: the same wait as for start-up.
    assert client.spin_until(lambda: skipped() >= 5, START_TIMEOUT_S,
                             publish=lambda: client.publish(depth, info=False)), \
        (f"{len(client.received['diagnostics'])} diagnostics received, last frames_skipped "
         f"{skipped()}:\n{log.read_text()}")
    assert client.received["pose"] == []


def test_malformed_frames_are_skipped_and_the_node_keeps_running(detector, client):
    proc, log = detector
    from grasp_seg_ros.ros.conversions import array_to_image
    from std_msgs.msg import Header
    rgb = array_to_image(np.zeros((480, 640, 3), np.uint8), Header(), "rgb8")
    assert client.spin_until(lambda: "unsupported depth encoding 'rgb8'" in log.read_text(),
                             START_TIMEOUT_S, publish=lambda: client.publish(None, image=rgb))
    assert client.received["pose"] == []
    good = box_scene()
    assert client.spin_until(lambda: client.received["pose"], 30.0,
                             publish=lambda: client.publish(good))
    assert proc.poll() is None


def test_parameter_changes_are_validated(detector, client):
    bad_range = set_parameter(client, "crop_size", 5)
    assert not bad_range.successful and "crop_size" in bad_range.reason
    bad_device = set_parameter(client, "device", "tpu")
    assert not bad_device.successful and "device must be one of" in bad_device.reason
    bad_model = set_parameter(client, "model", "/nonexistent/model.safetensors")
    assert not bad_model.successful and "/nonexistent/model.safetensors" in bad_model.reason
    read_only = set_parameter(client, "stats_period_s", 5.0)
    assert not read_only.successful and "read-only" in read_only.reason.lower()
    bad_augment = set_parameter(client, "augment", "spin")
    assert not bad_augment.successful and "augment must be one of" in bad_augment.reason
    assert set_parameter(client, "augment", "half_turn").successful   # two passes from now on
    assert set_parameter(client, "top_k", 1).successful
    depth = box_scene()
    assert client.spin_until(lambda: client.received["poses"], 30.0,
                             publish=lambda: client.publish(depth))
    assert len(client.received["poses"][-1].poses) == 1


@pytest.mark.parametrize("override, expected", [
    ("model:={missing}", ["{missing}", "does not exist", "pass an existing .safetensors"]),
    ("crop_size:=5", ["crop_size out of range", "Min: 32"]),
    ("device:=tpu", ["device must be one of", "'tpu'"]),
])
def test_bad_start_up_settings_stop_with_a_message(model, tmp_path, override, expected):
    missing = tmp_path / "missing.safetensors"
    proc = subprocess.run(
        [sys.executable, "-m", "grasp_seg_ros.ros.detector_node", "--ros-args",
         "-p", f"model:={model}", "-p", override.format(missing=missing)],
        capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    for text in expected:
        assert text.format(missing=missing) in out, out


def test_sigterm_stops_the_node_cleanly(detector, client):
    proc, log = detector
    depth = box_scene()
    assert client.spin_until(lambda: client.received["pose"], START_TIMEOUT_S,
                             publish=lambda: client.publish(depth))
    assert stop(proc, signal.SIGTERM) == 0
    assert "Traceback" not in log.read_text()


def test_params_file_applies_under_a_namespace(model, tmp_path, client):
    from rcl_interfaces.srv import GetParameters
    from grasp_seg_ros.core.resources import share_dir
    params = (share_dir() / "config" / "detect.yaml").read_text()
    assert "    top_k: 5" in params
    custom = tmp_path / "params.yaml"
    custom.write_text(params.replace("    top_k: 5", "    top_k: 3"))
    proc = start_detector(model, tmp_path / "ns.log", "--params-file", str(custom),
                          "-r", "__ns:=/arm")
    try:
        srv = client.node.create_client(GetParameters, "/arm/grasp_detector/get_parameters")
        assert srv.wait_for_service(timeout_sec=START_TIMEOUT_S)
        future = srv.call_async(GetParameters.Request(names=["top_k", "model"]))
        rclpy.spin_until_future_complete(client.node, future, timeout_sec=30.0)
        top_k, model_value = future.result().values
        assert top_k.integer_value == 3
        assert model_value.string_value == str(model)  # -p given after the file wins
    finally:
        assert stop(proc) == 0


def test_a_height_map_model_grasps_down_the_table_normal_and_reports_its_plane(
        tmp_path, client):
    """The node runs a height-map model from its metadata alone: the pose comes from the map,
    /diagnostics names the input and the fitted support plane."""
    from helpers import highest_surface_height_map_model
    model = highest_surface_height_map_model(tmp_path / "height_map.safetensors")
    log = tmp_path / "grasp_detector.log"
    proc = start_detector(model, log)
    try:
        depth = box_scene()
        assert client.spin_until(lambda: client.received["pose"] and client.received["quality"],
                                 START_TIMEOUT_S, publish=lambda: client.publish(depth)), \
            log.read_text()
        pose = client.received["pose"][0]
        p = np.array([pose.pose.position.x, pose.pose.position.y, pose.pose.position.z])
        row, col = INTR.point_to_pixel(p)
        assert 198 <= row < 242 and 328 <= col < 362 and p[2] == pytest.approx(0.5, abs=0.01)
        q = pose.pose.orientation
        axes = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        assert axes[2, 2] == pytest.approx(1.0, abs=1e-3)      # approach: the table's normal
        assert abs(axes[0, 0]) == pytest.approx(1.0, abs=1e-3)  # the 0 deg bin: along +x
        quality = client.received["quality"][-1]
        assert (quality.height, quality.width) == (224, 224)

        def plane_reported():
            for msg in client.received["diagnostics"]:
                for status in msg.status:
                    values = {kv.key: kv.value for kv in status.values}
                    if values.get("support_plane", "").startswith("fitted"):
                        return values
            return None
        assert client.spin_until(lambda: plane_reported() is not None, 10.0,
                                 publish=lambda: client.publish(depth))
        assert plane_reported()["input"] == "height_map"
    finally:
        assert stop(proc) == 0
    assert "Traceback" not in log.read_text()
