"""The grasp_detector node: depth Image + CameraInfo in, grasp poses and RViz views out.

Thin by design: a callback converts the message, GraspDetector does the work, the result is
converted back. Only the latest frame is processed: the depth callback overwrites a one-slot
mailbox and a worker thread takes from it, so a slow model drops frames instead of queueing.
In on_demand mode the callback keeps a frame only while a ~/detect request waits for one.

Two executables: ``grasp_detector`` (configured and active at start) and
``grasp_detector_managed`` (a lifecycle node that a bring-up tool configures and activates).
"""

from __future__ import annotations

import collections
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray, PoseStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Float32MultiArray, Header
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from grasp_seg_ros.core.draw import draw_grasps
from grasp_seg_ros.core.errors import (DeviceUnavailable, GraspSegError, InvalidCameraInfo,
                                       InvalidImage, NoGraspFound)
from grasp_seg_ros.core.grasp import DecodeParams
from grasp_seg_ros.core.heightmap import HeightMap
from grasp_seg_ros.core.preprocess import CropSpec
from grasp_seg_ros.core.selection import Clearance, GraspSelection, RigidTransform, WorkspaceBox
from grasp_seg_ros.core.stats import FrameStats
from grasp_seg_ros.inference.backends import DEVICES, PRECISIONS
from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.frames import SOURCES as TARGET_SOURCES, TargetFrame
from grasp_seg_ros.ros.params import ParamSpec as _Param, declare
from grasp_seg_ros.ros.spin import run_node
from grasp_seg_ros.core.resources import DEFAULT_MODEL

THROTTLE_S = 5.0


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
    "mode": _Param("continuous", "continuous: detect on every frame; on_demand: only when "
                                 "~/detect is called (no network work in between)"),
    "request_timeout_s": _Param(2.0, "~/detect waits at most this long for a new frame's result",
                                (0.01, 600.0)),
    "target_frame": _Param("", "express /grasp_pose, ~/grasps and ~/pregrasp in this frame "
                               "(e.g. base_link); empty = the depth image's optical frame"),
    "target_transform": _Param("auto", "the camera-to-target transform: tf (tf2_ros, at each "
                                       "frame's stamp), static (the two parameters below) or "
                                       "auto (tf when tf2_ros is importable, else static)"),
    "static_translation_m": _Param([0.0, 0.0, 0.0], "static transform: the optical frame's "
                                                    "origin in target_frame, metres"),
    "static_rotation_xyzw": _Param([0.0, 0.0, 0.0, 1.0], "static transform: the optical "
                                   "frame's orientation in target_frame, quaternion x y z w"),
    "tf_timeout_s": _Param(0.05, "wait this long for a tf2 transform at a frame's stamp",
                           (0.0, 10.0)),
    "workspace_enabled": _Param(False, "drop grasps outside the box workspace_min_m .. "
                                       "workspace_max_m (before top-k)"),
    "workspace_min_m": _Param([-1.0, -1.0, -1.0], "workspace box minimum x y z, metres, in "
                                                  "target_frame (else the optical frame)"),
    "workspace_max_m": _Param([1.0, 1.0, 3.0], "workspace box maximum x y z, metres"),
    "use_mask": _Param(False, "only grasp where mask/image_raw (mono8 or 16UC1, the depth "
                              "image's size and stamp) holds mask_id"),
    "mask_id": _Param(0, "use_mask: the instance id to grasp; 0 = any non-zero", (0, 65535)),
    "mask_timeout_s": _Param(0.5, "use_mask: wait this long for a depth frame's mask",
                             (0.0, 10.0)),
    "pregrasp_offset_m": _Param(0.1, "~/pregrasp lies this far back along the approach",
                                (0.0, 2.0)),
    "clearance_check": _Param(False, "drop grasps whose finger footprints hold seen surface "
                                     "above the finger reach (README: what it checks)"),
    "finger_thickness_m": _Param(0.01, "clearance: finger size along the closing direction",
                                 (0.001, 0.2)),
    "finger_width_m": _Param(0.02, "clearance: finger size across the closing direction",
                             (0.001, 0.5)),
    "finger_reach_m": _Param(0.01, "clearance: how far below the grasp point the finger tips "
                                   "go", (0.0, 0.5)),
}


MODES = ("continuous", "on_demand")


@dataclass
class _Request:
    """One ~/detect call: answered by the first frame that arrived after it."""

    after_seq: int
    done: threading.Event = field(default_factory=threading.Event)
    success: bool = False
    message: str = ""


def _stamp_ns(header: Header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


class _Detection:
    """The detector node's work, shared by the plain node and the managed (lifecycle) one.

    Start-up is three steps: ``_declare`` (parameters), ``_configure`` (check them, load the
    model, create the outputs and the ~/detect service), ``_activate`` (subscribe, start the
    worker). ``_deactivate`` and ``_cleanup`` undo the last two.
    """

    def _declare(self) -> None:
        # threading state first: destroy_node must work on a node whose start-up failed
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._masks_changed = threading.Condition()
        self._masks: collections.deque[tuple[int, Image]] = collections.deque(maxlen=8)
        self._worker: threading.Thread | None = None
        self._mailbox: tuple[int, Image] | None = None
        self._requests: list[_Request] = []
        self._intrinsics = None
        self._detector: GraspDetector | None = None
        self._target: TargetFrame | None = None
        self._previous_px: tuple[float, float] | None = None
        self._last_stamp_ns: int | None = None
        self._logged_at: dict[str, float] = {}
        self._inputs: list = []
        self._outputs: list = []
        self._timers: list = []
        self.stats = FrameStats()
        self._service_group = ReentrantCallbackGroup()
        self._values = declare(self, PARAMETERS)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _configure(self) -> None:
        values = self._values
        self._check_values(values)
        self._target = self._make_target(values)
        self._detector = self._build_detector(values)
        self.get_logger().info(f"running {self._detector.metadata_summary}; grasps in "
                               f"{self._target.describe()}; mode {values['mode']}")
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._pose_pub = self.create_publisher(PoseStamped, "/grasp_pose", reliable)
        self._poses_pub = self.create_publisher(PoseArray, "~/grasps", reliable)
        self._pregrasp_pub = self.create_publisher(PoseStamped, "~/pregrasp", reliable)
        self._optical_pose_pub = self.create_publisher(PoseStamped, "~/grasp_pose_optical",
                                                       reliable)
        self._optical_poses_pub = self.create_publisher(PoseArray, "~/grasps_optical", reliable)
        self._vector_pub = self.create_publisher(Float32MultiArray, "~/grasp", reliable)
        self._quality_pub = self.create_publisher(Image, "~/quality_map", 1)
        self._overlay_pub = self.create_publisher(Image, "~/overlay", 1)
        self._marker_pub = self.create_publisher(MarkerArray, "~/markers", reliable)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._outputs = [self._pose_pub, self._poses_pub, self._pregrasp_pub,
                         self._optical_pose_pub, self._optical_poses_pub, self._vector_pub,
                         self._quality_pub, self._overlay_pub, self._marker_pub, self._diag_pub]
        self._detect_srv = self.create_service(Trigger, "~/detect", self._on_detect,
                                               callback_group=self._service_group)
        self._timers = [self.create_timer(1.0, self._publish_diagnostics)]
        if values["stats_period_s"] > 0:
            self._timers.append(self.create_timer(values["stats_period_s"], self._log_stats))

    def _activate(self) -> None:
        self._inputs = [
            self.create_subscription(CameraInfo, "depth/camera_info", self._on_camera_info,
                                     qos_profile_sensor_data),
            self.create_subscription(Image, "depth/image_raw", self._on_depth,
                                     qos_profile_sensor_data),
            self.create_subscription(Image, "mask/image_raw", self._on_mask,
                                     qos_profile_sensor_data)]
        self._stopping.clear()
        self._worker = threading.Thread(target=self._work, name="grasp_worker", daemon=True)
        self._worker.start()

    def _deactivate(self) -> None:
        for sub in self._inputs:
            self.destroy_subscription(sub)
        self._inputs = []
        self._stopping.set()
        if self._worker is not None and self._worker.is_alive():
            self._worker.join(timeout=5.0)
        self._worker = None
        with self._lock:
            self._mailbox = None
            requests, self._requests = self._requests, []
        for req in requests:
            req.message = "the detector was deactivated"
            req.done.set()

    def _cleanup(self) -> None:
        for timer in self._timers:
            self.destroy_timer(timer)
        for pub in self._outputs:
            self.destroy_publisher(pub)
        if getattr(self, "_detect_srv", None) is not None:
            self.destroy_service(self._detect_srv)
            self._detect_srv = None
        self._timers, self._outputs = [], []
        self._detector = None
        self._intrinsics = None

    @property
    def active(self) -> bool:
        return self._worker is not None

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
        if values["mode"] not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got '{values['mode']}'")
        if values["target_transform"] not in TARGET_SOURCES:
            raise ValueError(f"target_transform must be one of {TARGET_SOURCES}, got "
                             f"'{values['target_transform']}'")
        try:
            RigidTransform.from_translation_quaternion(values["static_translation_m"],
                                                       values["static_rotation_xyzw"])
        except ValueError as exc:
            raise ValueError(f"static_translation_m / static_rotation_xyzw: {exc}") from None
        try:
            WorkspaceBox(tuple(values["workspace_min_m"]), tuple(values["workspace_max_m"]))
        except ValueError as exc:
            raise ValueError(f"workspace_min_m / workspace_max_m: {exc}") from None

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
            min_valid_fraction=values["min_valid_fraction"])

    def _make_target(self, values: dict) -> TargetFrame:
        return TargetFrame(self, values["target_frame"], values["target_transform"],
                           values["static_translation_m"], values["static_rotation_xyzw"],
                           values["tf_timeout_s"])

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
        changed = {p.name for p in params if p.name in PARAMETERS}
        detector, target = None, None
        try:
            self._check_values(values)
            if self._detector is not None:  # configured: apply now
                self._config(values)
                if any(PARAMETERS[n].reloads_model for n in changed):
                    detector = self._build_detector(values)
                if changed & {"target_frame", "target_transform", "static_translation_m",
                              "static_rotation_xyzw", "tf_timeout_s"}:
                    target = self._make_target(values)
        except (GraspSegError, ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        with self._lock:
            if detector is not None:
                self._detector = detector
                self.get_logger().info(f"switched to {detector.metadata_summary}")
            if target is not None:
                self._target = target
                self.get_logger().info(f"grasps now in {target.describe()}")
            self._previous_px = None
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
            seq = self.stats.count("received")
            if self._values["mode"] == "on_demand" and not self._requests:
                self.stats.count("idle")  # nobody asked: no work at all
                return
            if self._mailbox is not None:
                self.stats.count("dropped")  # the worker is busy: keep only the newest frame
            self._mailbox = (seq, msg)
        self._wakeup.set()

    def _on_mask(self, msg: Image) -> None:
        with self._masks_changed:
            self._masks.append((_stamp_ns(msg.header), msg))
            self._masks_changed.notify_all()

    def _on_detect(self, request: Trigger.Request, response: Trigger.Response
                   ) -> Trigger.Response:
        self.stats.count("requests")
        with self._lock:
            timeout_s = self._values["request_timeout_s"]
            if not self.active:
                reason = "the detector is not active"
            elif self._intrinsics is None:
                reason = (f"no valid CameraInfo yet on "
                          f"'{self.resolve_topic_name('depth/camera_info')}'")
            elif self.stats.received == 0:
                reason = (f"no depth frame received yet on "
                          f"'{self.resolve_topic_name('depth/image_raw')}'")
            else:
                reason = None
                req = _Request(after_seq=self.stats.received)
                self._requests.append(req)
        if reason is not None:
            response.success, response.message = False, reason
            return response
        if not req.done.wait(timeout_s):
            with self._lock:
                if req in self._requests:
                    self._requests.remove(req)
            if not req.done.is_set():
                response.success = False
                response.message = f"no new depth frame was processed within {timeout_s} s"
                return response
        response.success, response.message = req.success, req.message
        return response

    def _answer(self, seq: int, success: bool, message: str) -> None:
        """Answer the requests made before frame ``seq`` arrived with its outcome."""
        with self._lock:
            answered = [r for r in self._requests if r.after_seq < seq]
            self._requests = [r for r in self._requests if r.after_seq >= seq]
        for req in answered:
            req.success, req.message = success, message
            req.done.set()

    def _work(self) -> None:
        while not self._stopping.is_set():
            if not self._wakeup.wait(timeout=0.1):
                continue
            with self._lock:
                item, self._mailbox = self._mailbox, None
                self._wakeup.clear()
                wanted = self._values["mode"] == "continuous" or any(
                    item is not None and r.after_seq < item[0] for r in self._requests)
            if item is None or not wanted:
                continue
            seq, msg = item
            try:
                outcome = self._process(msg)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one frame
                # a bug, not bad input (that raises GraspSegError): log it with its traceback
                # and keep detecting on the next frame rather than silently stopping
                self.stats.record_skip(repr(exc), time.monotonic())
                self.get_logger().error(
                    f"unexpected error on a frame, skipped:\n{traceback.format_exc()}")
                outcome = (False, f"unexpected error: {exc!r}")
            if outcome is not None:
                self._answer(seq, *outcome)

    # -- one frame -------------------------------------------------------------------------
    def _mask_for(self, header: Header, shape: tuple[int, int], mask_id: int,
                  timeout_s: float) -> np.ndarray:
        """The boolean object mask of a depth frame (same stamp); raises InvalidImage."""
        stamp = _stamp_ns(header)
        deadline = time.monotonic() + timeout_s
        topic = self.resolve_topic_name("mask/image_raw")
        with self._masks_changed:
            while True:
                msg = next((m for s, m in reversed(self._masks) if s == stamp), None)
                remaining = deadline - time.monotonic()
                if msg is not None or remaining <= 0:
                    break
                self._masks_changed.wait(remaining)
        if msg is None:
            raise InvalidImage(f"no mask with the depth frame's stamp on '{topic}' within "
                               f"{timeout_s} s")
        ids = conv.image_to_array(msg)
        if ids.ndim != 2 or ids.dtype not in (np.uint8, np.uint16):
            raise InvalidImage(f"a mask is mono8 or 16UC1 instance ids, got '{msg.encoding}'")
        if ids.shape != shape:
            raise InvalidImage(f"the mask is {ids.shape[1]}x{ids.shape[0]} but the depth image "
                               f"is {shape[1]}x{shape[0]}")
        return ids != 0 if mask_id == 0 else ids == mask_id

    def _selection(self, values: dict, header: Header, shape: tuple[int, int],
                   to_target: RigidTransform | None) -> GraspSelection | None:
        workspace = (WorkspaceBox(tuple(values["workspace_min_m"]),
                                  tuple(values["workspace_max_m"]))
                     if values["workspace_enabled"] else None)
        mask = (self._mask_for(header, shape, values["mask_id"], values["mask_timeout_s"])
                if values["use_mask"] else None)
        clearance = (Clearance(values["finger_thickness_m"], values["finger_width_m"],
                               values["finger_reach_m"])
                     if values["clearance_check"] else None)
        if workspace is None and mask is None and clearance is None:
            return None
        return GraspSelection(workspace=workspace, to_frame=to_target, mask=mask,
                              clearance=clearance)

    def _process(self, msg: Image) -> tuple[bool, str] | None:
        """Detect on one frame and publish; (success, one line) for ~/detect, or None when
        the frame was not used (its stamp is older than the last one)."""
        log = self.get_logger()
        header = msg.header
        stamp = f"stamp {header.stamp.sec}.{header.stamp.nanosec:09d}"
        intrinsics = self._intrinsics
        if intrinsics is None:
            topic = self.resolve_topic_name("depth/camera_info")
            reason = f"no valid CameraInfo yet on '{topic}'; not detecting without intrinsics"
            self.stats.count("skipped")
            log.warning(reason, throttle_duration_sec=THROTTLE_S)
            return False, f"{reason}; {stamp}"
        with self._lock:
            detector, values, target = self._detector, self._values, self._target
            previous_px = self._previous_px if values["tracking"] else None
        if detector is None:
            return None
        if not self._accept_stamp(msg, values["stamp_reset_s"]):
            return None
        t0 = time.perf_counter()
        try:
            depth_m = conv.image_to_depth_m(
                msg, depth_scale=values["depth_scale"],
                valid_range_m=(values["min_depth_m"], values["max_depth_m"]))
            to_target = target.lookup(header)
            selection = self._selection(values, header, depth_m.shape, to_target)
            t1 = time.perf_counter()
            det = detector.detect(depth_m, intrinsics, config=self._config(values),
                                  selection=selection, previous_px=previous_px)
        except NoGraspFound as exc:
            self.stats.count("no_grasp")
            log.info(f"no grasp: {exc}", throttle_duration_sec=THROTTLE_S)
            return False, f"no grasp: {exc}; {stamp}"
        except GraspSegError as exc:
            self._skip(f"skipping frame: {exc}")
            return False, f"frame skipped: {exc}; {stamp}"
        best = det.best
        with self._lock:
            self._previous_px = (float(best.grasp_2d.row), float(best.grasp_2d.col))
        if isinstance(det.preprocessed, HeightMap):
            self.stats.support_plane = det.preprocessed.describe_plane()
            if not det.preprocessed.plane_fitted:
                log.warning("no support plane found: heights are measured along the optical "
                            "axis", throttle_duration_sec=THROTTLE_S)
        self._publish(det, header, values, target, to_target)
        t2 = time.perf_counter()
        timings = {"convert": (t1 - t0) * 1e3, **det.timings_ms}
        timings["publish"] = (t2 - t0) * 1e3 - sum(timings.values())
        self.stats.record_frame(timings, time.monotonic())
        out = to_target.apply_grasp(best) if to_target is not None else best
        log.debug("grasp at %s q=%.3f; %s" % (
            best.position_m.round(3), best.quality,
            " ".join(f"{k}={v:.1f}ms" for k, v in timings.items())))
        x, y, z = out.position_m
        frame = target.frame or header.frame_id
        return True, (f"grasp at ({x:.3f}, {y:.3f}, {z:.3f}) m in '{frame}', width "
                      f"{out.width_m * 100:.1f} cm, quality {out.quality:.2f}, {stamp}")

    def _publish(self, det, header: Header, values: dict, target: TargetFrame,
                 to_target: RigidTransform | None) -> None:
        grasps = det.grasps
        out_header = header
        if to_target is not None:
            grasps = [to_target.apply_grasp(g) for g in grasps]
            out_header = Header(stamp=header.stamp, frame_id=target.frame)
        best = grasps[0]
        self._pose_pub.publish(conv.grasp_to_pose_stamped(best, out_header))
        self._poses_pub.publish(conv.grasps_to_pose_array(grasps, out_header))
        self._pregrasp_pub.publish(conv.grasp_to_pose_stamped(
            best.backed_off(values["pregrasp_offset_m"]), out_header))
        self._optical_pose_pub.publish(conv.grasp_to_pose_stamped(det.best, header))
        self._optical_poses_pub.publish(conv.grasps_to_pose_array(det.grasps, header))
        self._vector_pub.publish(conv.grasp_to_vector(det.best))
        self._marker_pub.publish(conv.gripper_markers(
            best, out_header, finger_length_m=values["finger_length_m"]))
        if values["publish_maps"]:
            if self._quality_pub.get_subscription_count() > 0:
                self._quality_pub.publish(conv.array_to_image(det.maps.quality, header, "32FC1"))
            if self._overlay_pub.get_subscription_count() > 0:
                overlay = draw_grasps(det.preprocessed.depth_m, [g.grasp_2d for g in det.grasps])
                self._overlay_pub.publish(conv.array_to_image(overlay, header, "bgr8"))

    def _skip(self, reason: str) -> None:
        self.stats.record_skip(reason, time.monotonic())
        # throttle per kind of reason (numbers stripped), not per call site: a second kind
        # of bad frame must not hide behind the first
        kind = re.sub(r"[-+.\d]+", "#", reason)
        now = time.monotonic()
        if now - self._logged_at.get(kind, -np.inf) >= THROTTLE_S:
            self._logged_at[kind] = now
            self.get_logger().warning(reason)

    def _accept_stamp(self, msg: Image, reset_s: float) -> bool:
        """Skip frames older than the last one; a big jump back is a restart (bag loop)."""
        stamp_ns = _stamp_ns(msg.header)
        last = self._last_stamp_ns
        if last is not None and stamp_ns < last:
            back_s = (last - stamp_ns) * 1e-9
            if back_s <= reset_s:
                self._skip(f"skipping frame: stamp {back_s:.3f} s older than the last "
                           f"processed frame")
                return False
            self.get_logger().info(f"time went back {back_s:.1f} s (a restarted or looping "
                                   f"source?); tracking reset")
            with self._lock:
                self._previous_px = None
        self._last_stamp_ns = stamp_ns
        return True

    def _publish_diagnostics(self) -> None:
        with self._lock:
            detector, values, target = self._detector, self._values, self._target
        if detector is None:
            return
        on_demand = values["mode"] == "on_demand"
        ok, message, kv = self.stats.diagnostic(time.monotonic(),
                                                camera_info=self._intrinsics is not None,
                                                waiting_for_requests=on_demand)
        kv.update({"model": str(detector.model_path),
                   "architecture": detector.metadata.architecture,
                   "device": str(detector.device), "input": detector.metadata.input_kind,
                   "mode": values["mode"], "target_frame": target.describe()})
        status = DiagnosticStatus(level=DiagnosticStatus.OK if ok else DiagnosticStatus.WARN,
                                  name=f"{self.get_fully_qualified_name()}: detection",
                                  message=message, hardware_id=str(detector.device),
                                  values=[KeyValue(key=k, value=v) for k, v in kv.items()])
        header = Header(stamp=self.get_clock().now().to_msg())
        self._diag_pub.publish(DiagnosticArray(header=header, status=[status]))

    def _log_stats(self) -> None:
        line = self.stats.summary()
        if line is not None:
            self.get_logger().info(line)


class GraspDetectorNode(_Detection, Node):
    """Subscribes ``depth/image_raw``, ``depth/camera_info`` (and ``mask/image_raw``);
    publishes ``/grasp_pose``; serves ``~/detect``. Configured and active from the start."""

    def __init__(self, **kwargs) -> None:
        Node.__init__(self, "grasp_detector", **kwargs)
        self._declare()
        self._configure()
        self._activate()

    def destroy_node(self) -> None:
        self._deactivate()
        self._log_stats()
        super().destroy_node()


class ManagedGraspDetectorNode(_Detection, LifecycleNode):
    """The same node as a managed (lifecycle) node: configure loads the model and creates the
    outputs, activate subscribes and starts detecting, deactivate stops all work, cleanup
    unloads the model."""

    def __init__(self, **kwargs) -> None:
        LifecycleNode.__init__(self, "grasp_detector", **kwargs)
        self._declare()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (GraspSegError, ValueError) as exc:
            self.get_logger().error(f"cannot configure: {exc}")
            self._cleanup()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._activate()
        self.get_logger().info("active: detecting")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self.get_logger().info("inactive: not subscribed, no work")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._deactivate()
        super().destroy_node()


#: threads of the executor: the callbacks, and ~/detect requests waiting for a frame
EXECUTOR_THREADS = 4


def main(args: list[str] | None = None) -> int:
    """Entry point of the grasp_detector executable."""
    return run_node("grasp_detector", GraspDetectorNode, args, threads=EXECUTOR_THREADS)


def main_managed(args: list[str] | None = None) -> int:
    """Entry point of grasp_detector_managed: the lifecycle node, waiting to be configured."""
    return run_node("grasp_detector", ManagedGraspDetectorNode, args, threads=EXECUTOR_THREADS)


if __name__ == "__main__":
    sys.exit(main_managed() if "--managed" in sys.argv else main())
