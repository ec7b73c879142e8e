"""The grasp_detector node: depth Image + CameraInfo in, grasp poses and RViz views out.

Thin by design: a callback converts the message, GraspDetector does the work, the result is
converted back. Only the latest frame is processed: the depth callback overwrites a one-slot
mailbox and a worker thread takes from it, so a slow model drops frames instead of queueing.
"""

from __future__ import annotations

import sys
import collections
import re
import threading
import traceback
import time
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray, PoseStamped
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Float32MultiArray, Header
from visualization_msgs.msg import MarkerArray

from grasp_seg_ros.core.draw import draw_grasps
from grasp_seg_ros.core.errors import (DeviceUnavailable, GraspSegError, InvalidCameraInfo,
                                       NoGraspFound)
from grasp_seg_ros.core.grasp import DecodeParams
from grasp_seg_ros.core.heightmap import HeightMap
from grasp_seg_ros.core.preprocess import CropSpec
from grasp_seg_ros.core.stats import format_summary, summarise
from grasp_seg_ros.inference.backends import DEVICES, PRECISIONS
from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.spin import run_node
from grasp_seg_ros.core.resources import DEFAULT_MODEL

THROTTLE_S = 5.0


@dataclass(frozen=True)
class _Param:
    default: object
    description: str
    range: tuple[float, float] | None = None
    reloads_model: bool = False
    read_only: bool = False


PARAMETERS: dict[str, _Param] = {
    "model": _Param(DEFAULT_MODEL, "model name shipped in models/ or a path to a "
                                   ".safetensors file", reloads_model=True),
    "device": _Param("auto", f"compute device, one of {DEVICES}", reloads_model=True),
    "precision": _Param("fp32", "network arithmetic: fp32, or fp16 (for CUDA; slow on a CPU)",
                        reloads_model=True),
    "allow_cpu_fallback": _Param(False, "run on the CPU when the requested GPU is missing "
                                        "(else start-up fails)", reloads_model=True),
    "num_threads": _Param(1, "torch CPU threads (process-wide); 0 keeps torch's default",
                          (0, 64), reloads_model=True),
    "crop_size": _Param(300, "side of the square cut from the image centre, pixels",
                        (32, 4096)),
    "crop_offset_row": _Param(0, "crop offset from the image centre, rows (+ = down)",
                              (-2048, 2048)),
    "crop_offset_col": _Param(0, "crop offset from the image centre, columns (+ = right)",
                              (-2048, 2048)),
    "depth_scale": _Param(0.0, "metres per depth count; 0 = from the encoding "
                               "(16UC1: 0.001, 32FC1: 1)", (0.0, 10.0)),
    "min_depth_m": _Param(0.05, "depths nearer than this are invalid (holes)", (0.0, 100.0)),
    "max_depth_m": _Param(10.0, "depths further than this are invalid (holes)", (0.01, 1000.0)),
    "min_valid_fraction": _Param(0.05, "skip frames whose crop has less valid depth than this",
                                 (0.0, 1.0)),
    "quality_sigma": _Param(2.0, "Gaussian sigma for the quality map, network pixels",
                            (0.0, 20.0)),
    "angle_sigma": _Param(2.0, "Gaussian sigma for the cos/sin angle maps, network pixels",
                          (0.0, 20.0)),
    "width_sigma": _Param(1.0, "Gaussian sigma for the width map, network pixels", (0.0, 20.0)),
    "quality_threshold": _Param(0.1, "minimum filtered quality of a published grasp",
                                (0.0, 1.0)),
    "top_k": _Param(5, "grasps published on ~/grasps", (1, 100)),
    "peak_min_distance": _Param(10, "minimum distance between top-k grasps, network pixels",
                                (1, 150)),
    "tracking": _Param(False, "closed loop: prefer the peak nearest the previous grasp"),
    "publish_maps": _Param(True, "publish ~/quality_map and ~/overlay (only when subscribed)"),
    "finger_length_m": _Param(0.04, "finger length of the RViz gripper marker", (0.001, 1.0)),
    "stamp_reset_s": _Param(5.0, "a stamp further back than this is a restart (e.g. a looping "
                                 "bag): accepted, tracking reset; nearer ones are skipped",
                            (0.0, 3600.0)),
    "stats_period_s": _Param(30.0, "log per-stage latency (median/p95) this often; 0 = never",
                             (0.0, 3600.0), read_only=True),
}


def _descriptor(name: str, spec: _Param) -> ParameterDescriptor:
    desc = ParameterDescriptor(name=name, description=spec.description,
                               read_only=spec.read_only)
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        else:
            desc.floating_point_range = [FloatingPointRange(from_value=float(lo),
                                                            to_value=float(hi), step=0.0)]
    return desc


class GraspDetectorNode(Node):
    """Subscribes ``depth/image_raw`` and ``depth/camera_info``; publishes ``/grasp_pose``."""

    def __init__(self, **kwargs) -> None:
        super().__init__("grasp_detector", **kwargs)
        # threading state first: destroy_node must work on a node whose start-up failed
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._mailbox: Image | None = None
        self._intrinsics = None
        self.frames_received = 0
        self.frames_dropped = 0
        self.frames_processed = 0
        self.timings_ms: collections.deque[dict[str, float]] = collections.deque(maxlen=2000)
        self.frames_skipped = 0
        self.frames_no_grasp = 0
        self.last_error = ""
        self._last_error_time = 0.0
        self._last_stamp_ns: int | None = None
        #: the last height map's plane, for diagnostics ("" with a depth-crop model)
        self.support_plane = ""
        self._logged_at: dict[str, float] = {}
        self._processed_at: collections.deque[float] = collections.deque(maxlen=200)
        for name, spec in PARAMETERS.items():
            self.declare_parameter(name, spec.default, _descriptor(name, spec))
        values = {name: self.get_parameter(name).value for name in PARAMETERS}
        self._check_values(values)
        self._detector = self._build_detector(values)
        self._values = values
        self.get_logger().info(f"running {self._detector.metadata_summary}")
        self.add_on_set_parameters_callback(self._on_set_parameters)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._pose_pub = self.create_publisher(PoseStamped, "/grasp_pose", reliable)
        self._poses_pub = self.create_publisher(PoseArray, "~/grasps", reliable)
        self._vector_pub = self.create_publisher(Float32MultiArray, "~/grasp", reliable)
        self._quality_pub = self.create_publisher(Image, "~/quality_map", 1)
        self._overlay_pub = self.create_publisher(Image, "~/overlay", 1)
        self._marker_pub = self.create_publisher(MarkerArray, "~/markers", reliable)
        self.create_subscription(CameraInfo, "depth/camera_info", self._on_camera_info,
                                 qos_profile_sensor_data)
        self._depth_sub = self.create_subscription(Image, "depth/image_raw", self._on_depth,
                                                   qos_profile_sensor_data)
        if values["stats_period_s"] > 0:
            self.create_timer(values["stats_period_s"], self._log_stats)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="grasp_worker", daemon=True)
        self._worker.start()

    # -- parameters ------------------------------------------------------------------------
    @staticmethod
    def _check_values(values: dict) -> None:
        if values["device"] not in DEVICES and not str(values["device"]).startswith("cuda:"):
            raise ValueError(f"device must be one of {DEVICES}, got '{values['device']}'")
        if values["min_depth_m"] >= values["max_depth_m"]:
            raise ValueError(f"min_depth_m ({values['min_depth_m']}) must be below max_depth_m "
                             f"({values['max_depth_m']})")
        if values["precision"] not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got "
                             f"'{values['precision']}'")
        if not str(values["model"]).strip():
            raise ValueError("model must name a shipped model or a .safetensors path")

    @staticmethod
    def _config(values: dict) -> DetectorConfig:
        return DetectorConfig(
            crop=CropSpec(crop_size_px=values["crop_size"],
                          offset_row_px=values["crop_offset_row"],
                          offset_col_px=values["crop_offset_col"]),
            decode=DecodeParams(quality_sigma_px=values["quality_sigma"],
                                angle_sigma_px=values["angle_sigma"],
                                width_sigma_px=values["width_sigma"],
                                quality_threshold=values["quality_threshold"],
                                top_k=values["top_k"],
                                peak_min_distance_px=values["peak_min_distance"]),
            min_valid_fraction=values["min_valid_fraction"],
            tracking=values["tracking"])

    def _build_detector(self, values: dict) -> GraspDetector:
        def build(device: str) -> GraspDetector:
            return GraspDetector(values["model"], device=device,
                                 num_threads=values["num_threads"], config=self._config(values),
                                 precision=values["precision"])
        try:
            return build(values["device"])
        except DeviceUnavailable as exc:
            if not values["allow_cpu_fallback"]:
                raise DeviceUnavailable(f"{exc} (or set allow_cpu_fallback:=true)") from None
            self.get_logger().warning(f"{exc}; falling back to the CPU (allow_cpu_fallback)")
            return build("cpu")

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        values = dict(self._values)
        for p in params:
            if p.name in values:
                values[p.name] = p.value
        try:
            self._check_values(values)
            config = self._config(values)
            if any(PARAMETERS[p.name].reloads_model for p in params if p.name in PARAMETERS):
                detector = self._build_detector(values)
            else:
                detector = None
        except (GraspSegError, ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        with self._lock:
            if detector is not None:
                self._detector = detector
                self.get_logger().info(f"switched to {detector.metadata_summary}")
            self._detector.config = config
            self._detector.reset_tracking()
            self._values = values
        return SetParametersResult(successful=True)

    # -- callbacks -------------------------------------------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = conv.camera_info_to_intrinsics(msg)
        except InvalidCameraInfo as exc:
            self._intrinsics = None
            self.get_logger().warning(f"ignoring CameraInfo: {exc}",
                                      throttle_duration_sec=THROTTLE_S)

    def _on_depth(self, msg: Image) -> None:
        with self._lock:
            self.frames_received += 1
            if self._mailbox is not None:
                self.frames_dropped += 1  # the worker is busy: keep only the newest frame
            self._mailbox = msg
        self._wakeup.set()

    def _work(self) -> None:
        while not self._stopping.is_set():
            if not self._wakeup.wait(timeout=0.1):
                continue
            with self._lock:
                msg, self._mailbox = self._mailbox, None
                self._wakeup.clear()
            if msg is None:
                continue
            try:
                self._process(msg)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one frame
                # a bug, not bad input (that raises GraspSegError): log it with its traceback
                # and keep detecting on the next frame rather than silently stopping
                self.frames_skipped += 1
                self.last_error, self._last_error_time = repr(exc), time.monotonic()
                self.get_logger().error(
                    f"unexpected error on a frame, skipped:\n{traceback.format_exc()}")

    # -- one frame -------------------------------------------------------------------------
    def _process(self, msg: Image) -> None:
        log = self.get_logger()
        intrinsics = self._intrinsics
        if intrinsics is None:
            self.frames_skipped += 1
            topic = self.resolve_topic_name("depth/camera_info")
            log.warning(f"no valid CameraInfo yet on '{topic}'; not detecting without "
                        "intrinsics", throttle_duration_sec=THROTTLE_S)
            return
        with self._lock:
            detector, values = self._detector, self._values
        if not self._accept_stamp(msg, values["stamp_reset_s"], detector):
            return
        t0 = time.perf_counter()
        try:
            depth_m = conv.image_to_depth_m(
                msg, depth_scale=values["depth_scale"],
                valid_range_m=(values["min_depth_m"], values["max_depth_m"]))
            t1 = time.perf_counter()
            det = detector.detect(depth_m, intrinsics)
        except NoGraspFound as exc:
            self.frames_no_grasp += 1
            log.info(f"no grasp: {exc}", throttle_duration_sec=THROTTLE_S)
            return
        except GraspSegError as exc:
            self._skip(f"skipping frame: {exc}")
            return
        header = msg.header
        best = det.best
        if isinstance(det.preprocessed, HeightMap):
            self.support_plane = det.preprocessed.describe_plane()
            if not det.preprocessed.plane_fitted:
                log.warning("no support plane found: heights are measured along the optical "
                            "axis", throttle_duration_sec=THROTTLE_S)
        self._pose_pub.publish(conv.grasp_to_pose_stamped(best, header))
        self._poses_pub.publish(conv.grasps_to_pose_array(det.grasps, header))
        self._vector_pub.publish(conv.grasp_to_vector(best))
        self._marker_pub.publish(conv.gripper_markers(
            best, header, finger_length_m=values["finger_length_m"]))
        if values["publish_maps"]:
            if self._quality_pub.get_subscription_count() > 0:
                self._quality_pub.publish(conv.array_to_image(det.maps.quality, header, "32FC1"))
            if self._overlay_pub.get_subscription_count() > 0:
                overlay = draw_grasps(det.preprocessed.depth_m, [g.grasp_2d for g in det.grasps])
                self._overlay_pub.publish(conv.array_to_image(overlay, header, "bgr8"))
        t2 = time.perf_counter()
        self.frames_processed += 1
        self._processed_at.append(time.monotonic())
        timings = {"convert": (t1 - t0) * 1e3, **det.timings_ms}
        timings["publish"] = (t2 - t0) * 1e3 - sum(timings.values())
        self.timings_ms.append(timings)
        log.debug("grasp at %s q=%.3f; %s" % (
            best.position_m.round(3), best.quality,
            " ".join(f"{k}={v:.1f}ms" for k, v in timings.items())))

    def _skip(self, reason: str) -> None:
        self.frames_skipped += 1
        self.last_error, self._last_error_time = reason, time.monotonic()
        # throttle per kind of reason (numbers stripped), not per call site: a second kind
        # of bad frame must not hide behind the first
        kind = re.sub(r"[-+.\d]+", "#", reason)
        now = time.monotonic()
        if now - self._logged_at.get(kind, -np.inf) >= THROTTLE_S:
            self._logged_at[kind] = now
            self.get_logger().warning(reason)

    def _accept_stamp(self, msg: Image, reset_s: float, detector: GraspDetector) -> bool:
        """Skip frames older than the last one; a big jump back is a restart (bag loop)."""
        stamp_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        last = self._last_stamp_ns
        if last is not None and stamp_ns < last:
            back_s = (last - stamp_ns) * 1e-9
            if back_s <= reset_s:
                self._skip(f"skipping frame: stamp {back_s:.3f} s older than the last "
                           f"processed frame")
                return False
            self.get_logger().info(f"time went back {back_s:.1f} s (a restarted or looping "
                                   f"source?); tracking reset")
            detector.reset_tracking()
        self._last_stamp_ns = stamp_ns
        return True

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self._lock:
            samples = list(self.timings_ms)[-100:]
            detector = self._detector
            received, dropped = self.frames_received, self.frames_dropped
        recent = [t for t in self._processed_at if now - t <= 5.0]
        rate_hz = len(recent) / 5.0
        totals = [sum(t.values()) for t in samples]
        values = {
            "rate_hz": f"{rate_hz:.2f}",
            "latency_median_ms": f"{np.median(totals):.1f}" if totals else "",
            "latency_p95_ms": f"{np.percentile(totals, 95):.1f}" if totals else "",
            "frames_received": str(received), "frames_processed": str(self.frames_processed),
            "frames_dropped": str(dropped), "frames_skipped": str(self.frames_skipped),
            "frames_no_grasp": str(self.frames_no_grasp),
            "model": str(detector.model_path), "architecture": detector.metadata.architecture,
            "device": str(detector.device), "last_error": self.last_error,
            "camera_info": "yes" if self._intrinsics is not None else "no",
            "input": detector.metadata.input_kind, "support_plane": self.support_plane,
        }
        if self._intrinsics is None:
            level, message = DiagnosticStatus.WARN, "no valid CameraInfo"
        elif received == 0:
            level, message = DiagnosticStatus.WARN, "no depth frames received"
        elif now - self._last_error_time < 5.0:
            level, message = DiagnosticStatus.WARN, f"frames skipped: {self.last_error}"
        elif not recent:
            level, message = DiagnosticStatus.WARN, "no grasp in the last 5 s"
        else:
            level, message = DiagnosticStatus.OK, f"detecting at {rate_hz:.1f} Hz"
        status = DiagnosticStatus(level=level,
                                  name=f"{self.get_fully_qualified_name()}: detection",
                                  message=message, hardware_id=str(detector.device),
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        header = Header(stamp=self.get_clock().now().to_msg())
        self._diag_pub.publish(DiagnosticArray(header=header, status=[status]))

    def _log_stats(self) -> None:
        with self._lock:
            samples = list(self.timings_ms)
            received, dropped = self.frames_received, self.frames_dropped
        if samples:
            totals = [dict(t, total=sum(t.values())) for t in samples]
            self.get_logger().info(
                f"{self.frames_processed} frames processed, {dropped} of {received} dropped; "
                f"last {len(samples)}: {format_summary(summarise(totals))}")

    def destroy_node(self) -> None:
        self._stopping.set()
        if self._worker is not None and self._worker.is_alive():
            self._worker.join(timeout=5.0)
        self._log_stats()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of the grasp_detector executable."""
    return run_node("grasp_detector", GraspDetectorNode, args)


if __name__ == "__main__":
    sys.exit(main())
