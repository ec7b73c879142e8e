"""Network-map grasps -> 6-DoF grasp poses in the depth camera's optical frame.

Pose convention (REP 103/105, optical frame of the depth image): z = approach direction
(along the optical axis, into the scene), x = finger closing direction, y = z cross x.
Position = grasp centre on the surface. Width in metres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.grasp import Grasp2D
from grasp_seg_ros.core.preprocess import Crop

#: values of the flat grasp vector, in order (std_msgs/Float32MultiArray on ~/grasp)
GRASP_VECTOR_FIELDS = ("x_m", "y_m", "z_m", "angle_rad", "width_m", "quality",
                       "finger_depth_m")


@dataclass(frozen=True)
class GraspPose:
    """A grasp in the camera's optical frame."""

    position_m: np.ndarray    #: (3,) grasp centre on the surface
    quat_xyzw: np.ndarray     #: (4,) orientation, convention in the module docstring
    angle_rad: float          #: image-plane angle (see core.grasp)
    width_m: float            #: finger opening
    quality: float
    finger_depth_m: float     #: nearest depth between the fingers (for collision checks)
    image_px: tuple[float, float]  #: grasp centre in the full image, (row, col)
    grasp_2d: Grasp2D         #: the grasp in network-map pixels

    @property
    def closing_axis(self) -> np.ndarray:
        return Rotation.from_quat(self.quat_xyzw).as_matrix()[:, 0]

    @property
    def approach_axis(self) -> np.ndarray:
        return Rotation.from_quat(self.quat_xyzw).as_matrix()[:, 2]

    def backed_off(self, distance_m: float) -> "GraspPose":
        """The same grasp ``distance_m`` back along its approach: the pre-grasp pose."""
        return replace(self, position_m=self.position_m - distance_m * self.approach_axis)

    def is_finite(self) -> bool:
        """False when any published value would be NaN or infinite."""
        return bool(np.isfinite(self.position_m).all() and np.isfinite(self.quat_xyzw).all()
                    and np.isfinite([self.angle_rad, self.width_m, self.quality,
                                     self.finger_depth_m]).all())

    def as_vector(self) -> list[float]:
        """Flat values in the order of GRASP_VECTOR_FIELDS."""
        return [*map(float, self.position_m), self.angle_rad, self.width_m, self.quality,
                self.finger_depth_m]


def depth_between_fingers(depth_m: np.ndarray, grasp: Grasp2D, *,
                          thickness_px: int = 3) -> float:
    """Nearest (smallest) depth on the segment between the finger tips, network-map pixels.

    NaN when the grasp has no finite finger positions.
    """
    tips = grasp.finger_points()
    if not np.isfinite(tips).all() or np.abs(tips).max() > 1e6:
        return float("nan")
    (r0, c0), (r1, c1) = np.rint(tips).astype(int)
    mask = np.zeros(depth_m.shape, np.uint8)
    cv2.line(mask, (int(c0), int(r0)), (int(c1), int(r1)), 1, thickness=thickness_px)
    mask[grasp.row, grasp.col] = 1
    return float(np.min(depth_m[mask.astype(bool)]))


def grasp_to_pose(grasp: Grasp2D, depth_m: np.ndarray, crop: Crop,
                  intrinsics: CameraIntrinsics) -> GraspPose:
    """Map a network-map grasp to the full image, then to 3-D with the camera intrinsics.

    ``depth_m`` is the inpainted network-sized depth the grasp was found in.
    """
    z = float(depth_m[grasp.row, grasp.col])
    centre = np.array(crop.to_image(grasp.row, grasp.col), dtype=np.float64)
    tips = np.array(crop.to_image(*grasp.finger_points().T), dtype=np.float64).T  # (2, 2)
    position = intrinsics.pixel_to_point(centre[0], centre[1], z)
    tip_points = intrinsics.pixel_to_point(tips[:, 0], tips[:, 1], z)
    closing = tip_points[1] - tip_points[0]
    width_m = float(np.linalg.norm(closing))
    if np.isfinite(width_m) and width_m > 0.0:
        x_axis = closing / width_m
    else:  # a zero-width grasp still has an angle: take it from the image direction
        x_axis = np.array([np.cos(grasp.angle_rad), -np.sin(grasp.angle_rad), 0.0])
    z_axis = np.array([0.0, 0.0, 1.0])
    x_axis = x_axis - z_axis * x_axis.dot(z_axis)
    norm = np.linalg.norm(x_axis)
    if np.isfinite(norm) and norm > 0.0:
        x_axis /= norm
        # z stays the optical axis, so the rotation is a yaw about it: x -> (cos, sin, 0)
        half_yaw = 0.5 * np.arctan2(x_axis[1], x_axis[0])
        quat = np.array([0.0, 0.0, np.sin(half_yaw), np.cos(half_yaw)])
    else:  # NaN angle or width (a corrupt model): a non-finite pose, which is never published
        quat = np.full(4, np.nan)
    return GraspPose(position_m=position, quat_xyzw=quat, angle_rad=grasp.angle_rad,
                     width_m=width_m, quality=grasp.quality,
                     finger_depth_m=depth_between_fingers(depth_m, grasp),
                     image_px=(float(centre[0]), float(centre[1])), grasp_2d=grasp)
