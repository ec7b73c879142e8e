"""sim_camera: a simulated depth camera publishing like a RealSense driver does.

Publishes 16UC1 depth (mm) on ``camera/camera/depth/image_rect_raw`` and its CameraInfo on
``camera/camera/depth/camera_info`` (realsense-ros 4.x names in the root namespace) in the
optical frame ``camera_depth_optical_frame``. The scene (PyBullet objects on a table) changes
every ``scene_period_s``; sensor noise is drawn fresh for every frame.
"""

from __future__ import annotations

import sys

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from grasp_seg_ros.ros import conversions as conv
from grasp_seg_ros.ros.params import ParamSpec, declare
from grasp_seg_ros.ros.spin import run_node
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.scene import SceneConfig, make_scene

DEPTH_TOPIC = "camera/camera/depth/image_rect_raw"
INFO_TOPIC = "camera/camera/depth/camera_info"


PARAMETERS: dict[str, ParamSpec] = {
    "rate_hz": ParamSpec(10.0, "frames per second", (0.1, 120.0)),
    "scene_period_s": ParamSpec(2.0, "seconds per scene; 0 = never change", (0.0, 3600.0)),
    "seed": ParamSpec(0, "seed of the first scene", (0, 2**31 - 1)),
    "max_objects": ParamSpec(5, "objects per scene, at most", (1, 30)),
    "noise": ParamSpec(True, "apply the stereo depth noise model"),
    "frame_id": ParamSpec("camera_depth_optical_frame", "optical frame of the depth"),
}


class SimCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_camera", **kwargs)

        values = declare(self, PARAMETERS)
        self._camera = CameraConfig(frame_id=values["frame_id"])
        self._scene_config = SceneConfig(num_objects=(1, values["max_objects"]))
        self._noise = DepthNoise() if values["noise"] else None
        self._seed = int(values["seed"])
        self._rng = np.random.default_rng(self._seed)
        self._scene_period_s = float(values["scene_period_s"])
        self._depth_pub = self.create_publisher(Image, DEPTH_TOPIC, qos_profile_sensor_data)
        self._info_pub = self.create_publisher(CameraInfo, INFO_TOPIC, qos_profile_sensor_data)
        self.scene_index = -1
        self._next_scene_at = 0.0
        self._clean_depth_m: np.ndarray | None = None
        self.create_timer(1.0 / float(values["rate_hz"]), self._tick)
        self.get_logger().info(
            f"simulated {self._camera.width}x{self._camera.height} depth camera at "
            f"{values['rate_hz']:.1f} Hz, {self._camera.height_m:.2f} m above the table")

    def _new_scene(self) -> None:
        self.scene_index += 1
        with make_scene(self._seed + self.scene_index, camera=self._camera,
                        config=self._scene_config) as scene:
            self._clean_depth_m, _ = scene.render()
            kinds = ", ".join(o.label for o in scene.objects)
        self.get_logger().info(f"scene {self.scene_index}: {kinds}")

    def _tick(self) -> None:
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        if self._clean_depth_m is None or (self._scene_period_s > 0 and t >= self._next_scene_at):
            self._new_scene()
            self._next_scene_at = t + self._scene_period_s
        depth_m = self._clean_depth_m
        if self._noise is not None:
            depth_m = self._noise.apply(depth_m, self._rng)
        header = Header(stamp=now.to_msg(), frame_id=self._camera.frame_id)
        self._info_pub.publish(conv.intrinsics_to_camera_info(self._camera.intrinsics(), header))
        self._depth_pub.publish(conv.depth_m_to_image(depth_m, header, "16UC1"))


def main(args: list[str] | None = None) -> int:
    return run_node("sim_camera", SimCameraNode, args)


if __name__ == "__main__":
    sys.exit(main())
