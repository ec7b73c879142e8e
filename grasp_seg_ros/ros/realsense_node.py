"""realsense_camera: depth from a RealSense (pyrealsense2) or a recording, as realsense-ros does.

Publishes 16UC1 depth in millimetres (whatever the device's depth units) on
``<camera_namespace>/<camera_name>/depth/image_rect_raw`` and its CameraInfo (the intrinsics
and distortion of the filtered stream) on ``.../depth/camera_info``, frame
``<camera_name>_depth_optical_frame``: the names of realsense-ros 4.x, so the detector runs the
same with either driver. Parameters are read once at start (a camera is not reconfigured while
streaming). A recording played to its end stops the node with exit code 0 unless ``loop``.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from grasp_seg_ros.realsense.device import (DepthFrame, FilterConfig, RealSenseError,
                                            RealSenseSource, SourceConfig)
from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.spin import run_node


class RealSenseCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("realsense_camera", **kwargs)

        def desc(text: str, **ranges) -> ParameterDescriptor:
            return ParameterDescriptor(description=text, read_only=True, **ranges)

        def irange(lo: int, hi: int) -> dict:
            return {"integer_range": [IntegerRange(from_value=lo, to_value=hi, step=1)]}

        def frange(lo: float, hi: float) -> dict:
            return {"floating_point_range": [FloatingPointRange(from_value=lo, to_value=hi,
                                                                step=0.0)]}

        dp = self.declare_parameter
        dp("camera_namespace", "camera", desc("first part of the topic names"))
        dp("camera_name", "camera", desc("second part of the topic names; frame id prefix"))
        dp("serial_no", "", desc("serial number of the camera; empty = the one connected"))
        dp("width", 640, desc("depth width in pixels", **irange(1, 4096)))
        dp("height", 480, desc("depth height in pixels", **irange(1, 4096)))
        dp("fps", 30, desc("frames per second", **irange(1, 300)))
        dp("playback_file", "", desc("play this recording instead of a live camera"))
        dp("playback_realtime", True, desc("play at the recorded rate (false: as fast as read)"))
        dp("playback_loop", False, desc("replay the recording from its start when it ends"))
        dp("record_file", "", desc("live camera only: also record the stream to this file"))
        dp("decimation_filter.enable", False, desc("decimation (shrinks the image)"))
        dp("decimation_filter.filter_magnitude", 2, desc("decimation factor", **irange(2, 8)))
        dp("threshold_filter.enable", False, desc("zero depth outside [min, max] distance"))
        dp("threshold_filter.min_distance", 0.1, desc("metres", **frange(0.0, 100.0)))
        dp("threshold_filter.max_distance", 4.0, desc("metres", **frange(0.0, 100.0)))
        dp("spatial_filter.enable", False, desc("edge-preserving spatial smoothing"))
        dp("temporal_filter.enable", False, desc("temporal smoothing"))
        dp("hole_filling_filter.enable", False, desc("fill holes"))
        dp("hole_filling_filter.holes_fill", 1, desc(
            "0 fill from left, 1 farthest from around, 2 nearest from around", **irange(0, 2)))

        def gp(name):
            return self.get_parameter(name).value

        filters = FilterConfig(
            decimation=gp("decimation_filter.filter_magnitude")
            if gp("decimation_filter.enable") else 1,
            min_distance_m=gp("threshold_filter.min_distance")
            if gp("threshold_filter.enable") else 0.0,
            max_distance_m=gp("threshold_filter.max_distance")
            if gp("threshold_filter.enable") else 0.0,
            spatial=gp("spatial_filter.enable"), temporal=gp("temporal_filter.enable"),
            hole_filling=gp("hole_filling_filter.holes_fill")
            if gp("hole_filling_filter.enable") else -1)
        config = SourceConfig(
            serial=gp("serial_no"), width=gp("width"), height=gp("height"), fps=gp("fps"),
            playback_file=Path(gp("playback_file")) if gp("playback_file") else None,
            realtime=gp("playback_realtime"), loop=gp("playback_loop"),
            record_file=Path(gp("record_file")) if gp("record_file") else None,
            filters=filters)
        if config.playback_file is not None and config.record_file is not None:
            raise ValueError("record_file records a live camera; it cannot be used with "
                             "playback_file")
        base = f"{gp('camera_namespace')}/{gp('camera_name')}".strip("/")
        self._frame_id = f"{gp('camera_name')}_depth_optical_frame"
        self._depth_pub = self.create_publisher(Image, f"{base}/depth/image_rect_raw",
                                                qos_profile_sensor_data)
        self._info_pub = self.create_publisher(CameraInfo, f"{base}/depth/camera_info",
                                               qos_profile_sensor_data)
        self.frames_published = 0
        self.finished = False
        self.exit_code = 0
        self._stop = threading.Event()
        self._source = RealSenseSource(config)
        self._source.start()  # RealSenseError (a GraspSegError) stops start-up with its message
        self._thread = threading.Thread(target=self._run, name="realsense", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"{self._source.describe()} -> /{base}/depth/image_rect_raw "
            f"(frame {self._frame_id})")

    def _publish(self, frame: DepthFrame) -> None:
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._frame_id)
        intr = frame.intrinsics
        self._info_pub.publish(conv.intrinsics_to_camera_info(
            intr.pinhole, header, distortion_model=intr.distortion_model, d=intr.coeffs))
        self._depth_pub.publish(conv.array_to_image(frame.depth_mm, header, "16UC1"))
        self.frames_published += 1

    def _run(self) -> None:
        try:
            for frame in self._source.frames():
                if self._stop.is_set():
                    return
                self._publish(frame)
            self.get_logger().info(
                f"{self._source.describe()} ended after {self.frames_published} frames")
        except RealSenseError as exc:
            self.get_logger().error(f"{exc}; stopping")
            self.exit_code = 1
        finally:
            self.finished = True

    def destroy_node(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._source.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node("realsense_camera", RealSenseCameraNode, args)


if __name__ == "__main__":
    sys.exit(main())
