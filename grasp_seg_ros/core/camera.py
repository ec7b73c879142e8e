"""Pinhole intrinsics (from CameraInfo K, never literals) and pixel <-> 3-D mapping.

Pixels are (row, col) = (v, u); points are in the camera's optical frame (REP 103):
x right, y down, z forward, metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from grasp_seg_ros.core.errors import InvalidCameraInfo


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a depth image of size (height, width)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_k(cls, k: Sequence[float], *, width: int, height: int) -> "CameraIntrinsics":
        """Build from a row-major 3x3 K (sensor_msgs/CameraInfo.k); rejects unusable values."""
        if len(k) != 9:
            raise InvalidCameraInfo(f"K must have 9 elements, got {len(k)}")
        fx, fy, cx, cy = float(k[0]), float(k[4]), float(k[2]), float(k[5])
        intr = cls(fx=fx, fy=fy, cx=cx, cy=cy, width=int(width), height=int(height))
        intr.validate()
        return intr

    def validate(self) -> None:
        """Raise InvalidCameraInfo when focal lengths or size cannot describe a camera."""
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(np.isfinite(values)):
            raise InvalidCameraInfo(f"non-finite intrinsics fx={self.fx} fy={self.fy} "
                                    f"cx={self.cx} cy={self.cy}")
        if self.fx <= 0.0 or self.fy <= 0.0:
            raise InvalidCameraInfo(f"focal lengths must be positive, got fx={self.fx} "
                                    f"fy={self.fy} (is the CameraInfo calibrated?)")
        if self.width <= 0 or self.height <= 0:
            raise InvalidCameraInfo(f"image size must be positive, got {self.width}x{self.height}")

    def check_image(self, height: int, width: int) -> None:
        """Raise InvalidCameraInfo when an image's size differs from the calibrated size."""
        if (height, width) != (self.height, self.width):
            raise InvalidCameraInfo(
                f"depth image is {width}x{height} but CameraInfo describes "
                f"{self.width}x{self.height}")

    def pixel_to_point(self, row: float | np.ndarray, col: float | np.ndarray,
                       depth_m: float | np.ndarray) -> np.ndarray:
        """Deproject pixel(s) at a depth along the optical axis to (..., 3) points in metres."""
        row, col, z = np.broadcast_arrays(np.asarray(row, np.float64),
                                          np.asarray(col, np.float64),
                                          np.asarray(depth_m, np.float64))
        x = (col - self.cx) * z / self.fx
        y = (row - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=-1)

    def point_to_pixel(self, point_xyz: np.ndarray) -> np.ndarray:
        """Project (..., 3) points in metres to (..., 2) pixels as (row, col)."""
        p = np.asarray(point_xyz, np.float64)
        col = self.fx * p[..., 0] / p[..., 2] + self.cx
        row = self.fy * p[..., 1] / p[..., 2] + self.cy
        return np.stack([row, col], axis=-1)
