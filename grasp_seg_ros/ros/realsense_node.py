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

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from grasp_seg_ros.realsense.device import (DepthFrame, FilterConfig, RealSenseError,
                                            SourceConfig, open_source)
from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.params import ParamSpec as _P, declare
from grasp_seg_ros.ros.spin import run_node


#: read once at start (a camera is not reconfigured while streaming)
PARAMETERS: dict[str, _P] = {
    "camera_namespace": _P("camera", "first part of the topic names", read_only=True),
    "camera_name": _P("camera", "second part of the topic names; frame id prefix", read_only=True),
    "serial_no": _P("", "serial number of the camera; empty = the one connected", read_only=True),
    "width": _P(640, "depth width in pixels", (1, 4096), read_only=True),
    "height": _P(480, "depth height in pixels", (1, 4096), read_only=True),
    "fps": _P(30, "frames per second", (1, 300), read_only=True),
    "playback_file": _P("", "play this recording instead of a live camera", read_only=True),
    "playback_realtime": _P(
        True, "play at the recorded rate (false: as fast as read)", read_only=True),
    "playback_loop": _P(False, "replay the recording from its start when it ends", read_only=True),
    "record_file": _P("", "live camera only: also record the stream to this file", read_only=True),
    "decimation_filter.enable": _P(False, "decimation (shrinks the image)", read_only=True),
    "decimation_filter.filter_magnitude": _P(2, "decimation factor", (2, 8), read_only=True),
    "threshold_filter.enable": _P(False, "zero depth outside [min, max] distance", read_only=True),
    "threshold_filter.min_distance": _P(0.1, "metres", (0.0, 100.0), read_only=True),
    "threshold_filter.max_distance": _P(4.0, "metres", (0.0, 100.0), read_only=True),
    "spatial_filter.enable": _P(False, "edge-preserving spatial smoothing", read_only=True),
    "temporal_filter.enable": _P(False, "temporal smoothing", read_only=True),
    "hole_filling_filter.enable": _P(False, "fill holes", read_only=True),
    "hole_filling_filter.holes_fill": _P(
        1, "0 fill from left, 1 farthest from around, 2 nearest from around", (0, 2),
        read_only=True),
}


class RealSenseCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("realsense_camera", **kwargs)
        values = declare(self, PARAMETERS)

        def gp(name):
            return values[name]

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
        self._source = open_source(config)
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
