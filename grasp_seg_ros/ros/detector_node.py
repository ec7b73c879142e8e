"""The grasp_detector node: depth Image + CameraInfo in, grasp poses and RViz views out.

Thin by design: a callback converts the message, GraspDetector does the work, the result is
converted back. Only the latest frame is processed: the depth callback overwrites a one-slot
mailbox and a worker thread takes from it, so a slow model drops frames instead of queueing.
In on_demand mode the callback keeps a frame only while a ~/detect request waits for one.

This executable, ``grasp_detector``, is configured and active from the start;
``grasp_detector_managed`` (ros.managed_detector_node) runs the same work as a lifecycle node.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import (DeviceUnavailable, GraspSegError, InvalidCameraInfo,
                                       InvalidImage, NoGraspFound)
from grasp_seg_ros.core.heightmap import HeightMap
from grasp_seg_ros.core.stats import FrameStats
from grasp_seg_ros.inference.backends import bf16_hint
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.detector_params import (PARAMETERS, check_values, detector_config,
                                               grasp_selection)
from grasp_seg_ros.ros.frames import TargetFrame
from grasp_seg_ros.ros.outputs import DetectionOutputs
from grasp_seg_ros.ros.params import declare
from grasp_seg_ros.ros.requests import RequestBoard, StampedBuffer
from grasp_seg_ros.ros.spin import run_node

THROTTLE_S = 5.0


def _stamp_ns(header: Header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


class DetectionMixin:
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
        self._masks: StampedBuffer[Image] = StampedBuffer()
        # each CameraInfo by stamp, parsed or with the reason it is invalid: a frame pairs
        # with the one that shares its stamp, never with one that came after it
        self._infos: StampedBuffer[CameraIntrinsics | InvalidCameraInfo] = StampedBuffer()
        self._worker: threading.Thread | None = None
        self._mailbox: tuple[int, Image, CameraIntrinsics | None] | None = None
        self._requests = RequestBoard()
        self._intrinsics = None
        self._detector: GraspDetector | None = None
        self._target: TargetFrame | None = None
        self._previous_px: tuple[float, float] | None = None
        self._last_stamp_ns: int | None = None
        self._logged_at: dict[str, float] = {}
        self._inputs: list = []
        self._out: DetectionOutputs | None = None
        self._timers: list = []
        self.stats = FrameStats()
        self._service_group = ReentrantCallbackGroup()
        self._values = declare(self, PARAMETERS)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _configure(self) -> None:
        values = self._values
        check_values(values)
        self._target = self._make_target(values)
        self._detector = self._build_detector(values)
        self.get_logger().info(f"running {self._detector.metadata_summary}; grasps in "
                               f"{self._target.describe()}; mode {values['mode']}")
        hint = bf16_hint(self._detector.device, values["precision"])
        if hint:
            self.get_logger().info(hint)
        self._out = DetectionOutputs(self)
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
        self._requests.cancel_all("the detector was deactivated")

    def _cleanup(self) -> None:
        for timer in self._timers:
            self.destroy_timer(timer)
        if self._out is not None:
            self._out.destroy()
            self._out = None
        if getattr(self, "_detect_srv", None) is not None:
            self.destroy_service(self._detect_srv)
            self._detect_srv = None
        self._timers = []
        self._detector = None
        self._intrinsics = None
        self._infos = StampedBuffer()

    @property
    def active(self) -> bool:
        return self._worker is not None

    # -- parameters ------------------------------------------------------------------------
    def _make_target(self, values: dict) -> TargetFrame:
        return TargetFrame(self, values["target_frame"], values["target_transform"],
                           values["static_translation_m"], values["static_rotation_xyzw"],
                           values["tf_timeout_s"])

    def _build_detector(self, values: dict) -> GraspDetector:
        def build(device: str) -> GraspDetector:
            return GraspDetector(values["model"], device=device,
                                 num_threads=values["num_threads"], config=detector_config(values),
                                 precision=values["precision"], backend=values["backend"])
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
            check_values(values)
            if self._detector is not None:  # configured: apply now
                if any(PARAMETERS[n].reloads_model for n in changed):
                    detector = self._build_detector(values)
                (detector or self._detector).check_config(detector_config(values))
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
            intrinsics = conv.camera_info_to_intrinsics(msg)
        except InvalidCameraInfo as exc:
            intrinsics = None
            self._infos.put(_stamp_ns(msg.header), exc)
            self.get_logger().warning(f"ignoring CameraInfo: {exc}",
                                      throttle_duration_sec=THROTTLE_S)
        else:
            self._infos.put(_stamp_ns(msg.header), intrinsics)
        with self._lock:
            self._intrinsics = intrinsics

    def _on_depth(self, msg: Image) -> None:
        with self._lock:
            seq = self.stats.count("received")
            if self._values["mode"] == "on_demand" and not self._requests:
                self.stats.count("idle")  # nobody asked: no work at all
                return
            if self._mailbox is not None:
                self.stats.count("dropped")  # the worker is busy: keep only the newest frame
            # the CameraInfo known on arrival goes with the frame: one that arrives while
            # the frame waits belongs to a later frame (unless the stamps match, see _process)
            self._mailbox = (seq, msg, self._intrinsics)
        self._wakeup.set()

    def _on_mask(self, msg: Image) -> None:
        self._masks.put(_stamp_ns(msg.header), msg)

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
                req = self._requests.add(after_seq=self.stats.received)
        if reason is not None:
            response.success, response.message = False, reason
        elif not self._requests.wait(req, timeout_s):
            response.success = False
            response.message = f"no new depth frame was processed within {timeout_s} s"
        else:
            response.success, response.message = req.success, req.message
        return response

    def _work(self) -> None:
        while not self._stopping.is_set():
            if not self._wakeup.wait(timeout=0.1):
                continue
            with self._lock:
                item, self._mailbox = self._mailbox, None
                self._wakeup.clear()
                wanted = item is not None and (self._values["mode"] == "continuous"
                                               or self._requests.wanted(item[0]))
            if not wanted:
                continue
            seq, msg, intrinsics = item
            try:
                outcome = self._process(msg, intrinsics)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one frame
                # a bug, not bad input (that raises GraspSegError): log it with its traceback
                # and keep detecting on the next frame rather than silently stopping
                self.stats.record_skip(repr(exc), time.monotonic())
                self.get_logger().error(
                    f"unexpected error on a frame, skipped:\n{traceback.format_exc()}")
                outcome = (False, f"unexpected error: {exc!r}")
            if outcome is not None:
                self._requests.answer(seq, *outcome)

    # -- one frame -------------------------------------------------------------------------
    def _mask_for(self, header: Header, shape: tuple[int, int], mask_id: int,
                  timeout_s: float) -> np.ndarray:
        """The boolean object mask of a depth frame (same stamp); raises InvalidImage."""
        msg = self._masks.get(_stamp_ns(header), timeout_s)
        if msg is None:
            raise InvalidImage(f"no mask with the depth frame's stamp on "
                               f"'{self.resolve_topic_name('mask/image_raw')}' within "
                               f"{timeout_s} s")
        return conv.image_to_mask(msg, shape, mask_id)

    def _process(self, msg: Image, on_arrival: CameraIntrinsics | None
                 ) -> tuple[bool, str] | None:
        """Detect on one frame and publish; (success, one line) for ~/detect, or None when
        the frame was not used (its stamp is older than the last one).

        The intrinsics are those of the CameraInfo with the frame's stamp when one came,
        else ``on_arrival``: those of the last CameraInfo before the frame."""
        log = self.get_logger()
        header = msg.header
        stamp = f"stamp {header.stamp.sec}.{header.stamp.nanosec:09d}"
        paired = self._infos.get(_stamp_ns(header), 0.0)
        if isinstance(paired, InvalidCameraInfo):
            self._skip(f"skipping frame: the CameraInfo with its stamp is invalid: {paired}")
            return False, f"frame skipped: invalid CameraInfo: {paired}; {stamp}"
        intrinsics = paired if paired is not None else on_arrival
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
            mask = (self._mask_for(header, depth_m.shape, values["mask_id"],
                                   values["mask_timeout_s"]) if values["use_mask"] else None)
            selection = grasp_selection(values, mask, to_target)
            t1 = time.perf_counter()
            det = detector.detect(depth_m, intrinsics, config=detector_config(values),
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
        self._out.publish(det, header, values, target.frame, to_target)
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
                   "device": str(detector.device), "backend": detector.backend.name,
                   "precision": detector.precision,
                   "input": detector.metadata.input_kind,
                   "mode": values["mode"], "target_frame": target.describe()})
        self._out.publish_status(f"{self.get_fully_qualified_name()}: detection", ok, message,
                                 str(detector.device), kv, self.get_clock().now().to_msg())

    def _log_stats(self) -> None:
        line = self.stats.summary()
        if line is not None:
            self.get_logger().info(line)


class GraspDetectorNode(DetectionMixin, Node):
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


#: threads of the executor: the callbacks, and ~/detect requests waiting for a frame
EXECUTOR_THREADS = 4


def main(args: list[str] | None = None) -> int:
    """Entry point of the grasp_detector executable."""
    return run_node("grasp_detector", GraspDetectorNode, args, threads=EXECUTOR_THREADS)


if __name__ == "__main__":
    sys.exit(main())
