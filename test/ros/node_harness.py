"""Start grasp_detector as its own process and talk to it over DDS from the test process."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray, PoseStamped
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Float32MultiArray, Header
from visualization_msgs.msg import MarkerArray

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.processes import (DETECTOR_MODULE, MANAGED_DETECTOR_MODULE, start_node,
                                         stop_node)

INTR = CameraIntrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
FRAME_ID = "test_depth_optical_frame"
START_TIMEOUT_S = 90.0  # importing torch and discovery on a loaded 2-core machine


def start_detector(model: Path, log_path: Path, *extra: str,
                   managed: bool = False) -> subprocess.Popen:
    """The plain node, or with ``managed`` the lifecycle one (grasp_detector_managed)."""
    return start_node(MANAGED_DETECTOR_MODULE if managed else DETECTOR_MODULE,
                      [*extra, "-p", f"model:={model}", "-p", "device:=cpu",
                       "-r", "depth/image_raw:=/test_cam/depth",
                       "-r", "depth/camera_info:=/test_cam/info",
                       "-r", "mask/image_raw:=/test_cam/mask"],
                      log_path)


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout_s: float = 15.0) -> int:
    """Stop a node; a node that ignores ``sig`` fails the test (it is killed first)."""
    code = stop_node(proc, sig, timeout_s)
    if sig != signal.SIGKILL and code == -signal.SIGKILL:
        raise AssertionError(f"node did not stop within {timeout_s} s after signal {sig}")
    return code


class Client:
    """Publishes depth + CameraInfo and records everything the detector publishes."""

    def __init__(self) -> None:
        self.node = rclpy.create_node("detector_test_client")
        self.depth_pub = self.node.create_publisher(Image, "/test_cam/depth",
                                                    qos_profile_sensor_data)
        self.info_pub = self.node.create_publisher(CameraInfo, "/test_cam/info",
                                                   qos_profile_sensor_data)
        self.mask_pub = self.node.create_publisher(Image, "/test_cam/mask",
                                                   qos_profile_sensor_data)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.received: dict[str, list] = {k: [] for k in
                                          ("pose", "poses", "vector", "markers", "quality",
                                           "overlay", "pregrasp", "pose_optical",
                                           "poses_optical")}
        self.received["diagnostics"] = []
        self.node.create_subscription(DiagnosticArray, "/diagnostics",
                                      lambda m: self.received["diagnostics"].append(m), 10)
        for key, typ, topic, qos in (
                ("pose", PoseStamped, "/grasp_pose", reliable),
                ("poses", PoseArray, "/grasp_detector/grasps", reliable),
                ("pregrasp", PoseStamped, "/grasp_detector/pregrasp", reliable),
                ("pose_optical", PoseStamped, "/grasp_detector/grasp_pose_optical", reliable),
                ("poses_optical", PoseArray, "/grasp_detector/grasps_optical", reliable),
                ("vector", Float32MultiArray, "/grasp_detector/grasp", reliable),
                ("markers", MarkerArray, "/grasp_detector/markers", reliable),
                ("quality", Image, "/grasp_detector/quality_map", 5),
                ("overlay", Image, "/grasp_detector/overlay", 5)):
            self.node.create_subscription(typ, topic,
                                          lambda m, k=key: self.received[k].append(m), qos)
        self.sent_stamps: list[tuple[int, int]] = []
        self._services: dict = {}

    def publish(self, depth_m, *, info: bool | CameraInfo = True, encoding: str = "16UC1",
                image: Image | None = None, stamp=None, mask=None) -> Header:
        """One depth frame (and its CameraInfo; with ``mask``, an instance-id image with the
        same stamp, published first)."""
        now = stamp if stamp is not None else self.node.get_clock().now().to_msg()
        header = Header(stamp=now, frame_id=FRAME_ID)
        if mask is not None:
            encoding_ids = "mono8" if mask.dtype == np.uint8 else "16UC1"
            self.mask_pub.publish(conv.array_to_image(mask, header, encoding_ids))
        if isinstance(info, CameraInfo):
            info.header = header
            self.info_pub.publish(info)
        elif info:
            self.info_pub.publish(conv.intrinsics_to_camera_info(INTR, header))
        msg = image if image is not None else conv.depth_m_to_image(depth_m, header, encoding)
        msg.header = header
        self.depth_pub.publish(msg)
        self.sent_stamps.append((now.sec, now.nanosec))
        return header

    def spin_until(self, predicate, timeout_s: float, *, publish=None,
                   period_s: float = 0.2) -> bool:
        """Spin (publishing with ``publish()`` every period) until predicate() or timeout."""
        deadline = time.monotonic() + timeout_s
        next_pub = 0.0
        while time.monotonic() < deadline:
            if publish is not None and time.monotonic() >= next_pub:
                publish()
                next_pub = time.monotonic() + period_s
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if predicate():
                return True
        return False

    def service(self, srv_type, name: str):
        """A client of one of the node's services, made once and kept: a response can be lost
        while a new client's response reader is still being matched (rclpy offers no
        condition to wait on for that), so each client settles once, on first use."""
        key = (srv_type, name)
        if key not in self._services:
            srv = self.node.create_client(srv_type, name)
            assert srv.wait_for_service(timeout_sec=START_TIMEOUT_S), f"no service {name}"
            self.spin_until(lambda: False, 0.3)
            self._services[key] = srv
        return self._services[key]

    def close(self) -> None:
        self.node.destroy_node()


def call(client: Client, srv_type, name: str, request, timeout_s: float = 30.0):
    """Call a service of the node and wait for the answer."""
    future = client.service(srv_type, name).call_async(request)
    rclpy.spin_until_future_complete(client.node, future, timeout_sec=timeout_s)
    assert future.done(), f"{name} did not answer within {timeout_s} s"
    return future.result()


def set_parameter(client: Client, name: str, value):
    """Set one parameter through the node's set_parameters service; returns the result."""
    srv = client.service(SetParameters, "/grasp_detector/set_parameters")
    if isinstance(value, bool):
        pv = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    elif isinstance(value, list):
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE_ARRAY,
                            double_array_value=[float(v) for v in value])
    elif isinstance(value, float):
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    elif isinstance(value, int):
        pv = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    else:
        pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    future = srv.call_async(SetParameters.Request(parameters=[Parameter(name=name, value=pv)]))
    rclpy.spin_until_future_complete(client.node, future, timeout_sec=30.0)
    return future.result().results[0]
