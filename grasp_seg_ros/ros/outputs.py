"""What grasp_detector publishes for one detection, and the publishers it goes out on."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, Header
from visualization_msgs.msg import MarkerArray

from grasp_seg_ros.core.draw import draw_grasps
from grasp_seg_ros.core.selection import RigidTransform
from grasp_seg_ros.ros import conversions as conv


class DetectionOutputs:
    """The node's publishers. Poses go out in the target frame when a transform is given
    (with the optical-frame copies beside them); maps and overlays stay in the image's frame
    and are drawn only while someone subscribes."""

    def __init__(self, node: Node) -> None:
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        make = node.create_publisher
        self.pose = make(PoseStamped, "/grasp_pose", reliable)
        self.poses = make(PoseArray, "~/grasps", reliable)
        self.pregrasp = make(PoseStamped, "~/pregrasp", reliable)
        self.optical_pose = make(PoseStamped, "~/grasp_pose_optical", reliable)
        self.optical_poses = make(PoseArray, "~/grasps_optical", reliable)
        self.vector = make(Float32MultiArray, "~/grasp", reliable)
        self.quality = make(Image, "~/quality_map", 1)
        self.overlay = make(Image, "~/overlay", 1)
        self.markers = make(MarkerArray, "~/markers", reliable)
        self.diagnostics = make(DiagnosticArray, "/diagnostics", 10)
        self._node = node

    def destroy(self) -> None:
        for pub in (self.pose, self.poses, self.pregrasp, self.optical_pose, self.optical_poses,
                    self.vector, self.quality, self.overlay, self.markers, self.diagnostics):
            self._node.destroy_publisher(pub)

    def publish(self, det, header: Header, values: dict, target_frame: str,
                to_target: RigidTransform | None) -> None:
        """Everything about one detection ``det`` of the frame with ``header``."""
        grasps, out_header = det.grasps, header
        if to_target is not None:
            grasps = [to_target.apply_grasp(g) for g in grasps]
            out_header = Header(stamp=header.stamp, frame_id=target_frame)
        best = grasps[0]
        self.pose.publish(conv.grasp_to_pose_stamped(best, out_header))
        self.poses.publish(conv.grasps_to_pose_array(grasps, out_header))
        self.pregrasp.publish(conv.grasp_to_pose_stamped(
            best.backed_off(values["pregrasp_offset_m"]), out_header))
        self.optical_pose.publish(conv.grasp_to_pose_stamped(det.best, header))
        self.optical_poses.publish(conv.grasps_to_pose_array(det.grasps, header))
        self.vector.publish(conv.grasp_to_vector(det.best))
        self.markers.publish(conv.gripper_markers(
            best, out_header, finger_length_m=values["finger_length_m"]))
        if values["publish_maps"]:
            if self.quality.get_subscription_count() > 0:
                self.quality.publish(conv.array_to_image(det.maps.quality, header, "32FC1"))
            if self.overlay.get_subscription_count() > 0:
                overlay = draw_grasps(det.preprocessed.depth_m, [g.grasp_2d for g in det.grasps])
                self.overlay.publish(conv.array_to_image(overlay, header, "bgr8"))

    def publish_status(self, name: str, ok: bool, message: str, hardware_id: str,
                       values: dict[str, str], stamp) -> None:
        """One diagnostic_msgs status (OK or WARN) with its key values on /diagnostics."""
        status = DiagnosticStatus(level=DiagnosticStatus.OK if ok else DiagnosticStatus.WARN,
                                  name=name, message=message, hardware_id=hardware_id,
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        self.diagnostics.publish(DiagnosticArray(header=Header(stamp=stamp), status=[status]))
