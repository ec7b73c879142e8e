"""The demo: simulated depth camera -> grasp_detector node -> grasps printed and drawn.

Both nodes run as their own processes and talk over real DDS; this process listens like an
arm controller would, logs every grasp as it arrives and saves the detector's overlays as PNG.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from grasp_seg_ros.core.stats import format_summary, summarise
from grasp_seg_ros.ros.processes import detector_ros_args, node_process, ros_env

LOG = logging.getLogger("grasp_seg_ros.demo")


def run_demo(*, grasps: int, timeout_s: float, out_dir: Path, model: str,
             rate_hz: float, seed: int, overlays: int = 10) -> int:
    """Run the demo until ``grasps`` grasps arrived or ``timeout_s`` passed; 0 on success.

    The first ``overlays`` overlays are saved as PNG; end-to-end latency (camera stamp to
    grasp received here) is summarised at the end.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    env = ros_env()
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE",)})
    camera_args = ["-p", f"rate_hz:={rate_hz}", "-p", f"seed:={seed}",
                   "-p", "scene_period_s:=2.0"]
    detector_args = detector_ros_args(model)
    exit_codes: dict[str, int | None] = {}
    with contextlib.ExitStack() as nodes:
        camera = nodes.enter_context(node_process(
            "grasp_seg_ros.ros.sim_camera_node", camera_args, out_dir / "sim_camera.log",
            exit_codes))
        detector = nodes.enter_context(node_process(
            "grasp_seg_ros.ros.detector_node", detector_args, out_dir / "grasp_detector.log",
            exit_codes))
        LOG.info("started sim_camera (pid %d) and grasp_detector (pid %d); logs in %s",
                 camera.pid, detector.pid, out_dir)
        result = _listen(grasps=grasps, overlays=min(overlays, grasps),
                         timeout_s=timeout_s, out_dir=out_dir,
                         children={"sim_camera": camera, "grasp_detector": detector})
    LOG.info("nodes stopped with exit codes %s",
             {k: exit_codes.get(k) for k in ("grasp_detector", "sim_camera")})
    return result


def _listen(*, grasps: int, overlays: int, timeout_s: float, out_dir: Path,
            children: dict[str, subprocess.Popen]) -> int:
    """Listen like an arm controller: log grasps, save overlays, summarise latency."""
    import cv2
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Float32MultiArray

    from grasp_seg_ros.core.pose import GRASP_VECTOR_FIELDS
    from grasp_seg_ros.ros.conversions import image_to_array

    rclpy.init(args=[])
    node = rclpy.create_node("grasp_demo_listener")
    received: list[PoseStamped] = []
    reported: list[PoseStamped] = []
    overlays_saved: list[Path] = []
    latencies_ms: list[dict[str, float]] = []
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    # ~/grasp has no header and topics are not ordered with each other: pair each pose with
    # its grasp vector through the position both carry. A grasp counts once both halves
    # came: the two subscriptions are matched separately, so the first poses may arrive
    # before ~/grasp is connected and never find their vector
    pending: dict[tuple[float, ...], dict] = {}

    def key(xyz) -> tuple[float, ...]:
        return tuple(round(float(np.float32(v)), 4) for v in xyz)

    def report(pose: PoseStamped, values: dict[str, float], latency_ms: float) -> None:
        p, q = pose.pose.position, pose.pose.orientation
        LOG.info("grasp in %s at t=%d.%09d: position (%.3f, %.3f, %.3f) m, quat_xyzw "
                 "(%.2f, %.2f, %.2f, %.2f), angle %.0f deg, width %.1f cm, quality %.2f, "
                 "latency %.0f ms", pose.header.frame_id, pose.header.stamp.sec,
                 pose.header.stamp.nanosec, p.x, p.y, p.z, q.x, q.y, q.z, q.w,
                 np.degrees(values["angle_rad"]), 100 * values["width_m"], values["quality"],
                 latency_ms)
        reported.append(pose)

    def match(k: tuple[float, ...], **item) -> None:
        entry = pending.setdefault(k, {})
        entry.update(item)
        if "pose" in entry and "values" in entry:
            report(entry["pose"], entry["values"], entry["latency_ms"])
            del pending[k]

    def on_vector(msg: Float32MultiArray) -> None:
        values = dict(zip(GRASP_VECTOR_FIELDS, msg.data))
        match(key(msg.data[:3]), values=values)

    def on_pose(msg: PoseStamped) -> None:
        received.append(msg)
        latency_ms = (node.get_clock().now().nanoseconds
                      - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) * 1e-6
        latencies_ms.append({"stamp_to_grasp": latency_ms})
        p = msg.pose.position
        match(key((p.x, p.y, p.z)), pose=msg, latency_ms=latency_ms)

    def on_overlay(msg: Image) -> None:
        if len(overlays_saved) >= overlays:
            return
        path = out_dir / f"overlay_{len(overlays_saved):03d}.png"
        cv2.imwrite(str(path), image_to_array(msg))
        overlays_saved.append(path)

    node.create_subscription(PoseStamped, "/grasp_pose", on_pose, reliable)
    node.create_subscription(Float32MultiArray, "/grasp_detector/grasp", on_vector, reliable)
    node.create_subscription(Image, "/grasp_detector/overlay", on_overlay, 1)
    deadline = time.monotonic() + timeout_s
    try:
        while (len(reported) < grasps or len(overlays_saved) < overlays) \
                and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.2)
            for name, proc in children.items():
                if proc.poll() is not None:
                    LOG.error("%s exited with code %s; see %s", name, proc.returncode,
                              out_dir / f"{name}.log")
                    return 1
    except KeyboardInterrupt:
        LOG.info("interrupted")
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    LOG.info("received %d grasps; saved %d overlays in %s", len(reported),
             len(overlays_saved), out_dir)
    if latencies_ms:
        LOG.info("end-to-end latency over %d poses on /grasp_pose: %s", len(latencies_ms),
                 format_summary(summarise(latencies_ms)))
    if len(reported) < grasps:
        LOG.error("expected %d grasps within %.0f s; see the node logs in %s", grasps,
                  timeout_s, out_dir)
        return 1
    return 0
