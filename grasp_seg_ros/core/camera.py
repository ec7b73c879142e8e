"""Pinhole intrinsics and lens distortion (from CameraInfo K and D, never literals) and
pixel <-> 3-D mapping.

Pixels are (row, col) = (v, u); points are in the camera's optical frame (REP 103):
x right, y down, z forward, metres. With a non-zero D, pixels are those of the distorted
(raw) image and OpenCV undistorts them before deprojection (``plumb_bob`` and
``rational_polynomial``: cv2.undistortPoints; ``equidistant``: cv2.fisheye).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from grasp_seg_ros.core.errors import InvalidCameraInfo

DISTORTION_MODELS = ("plumb_bob", "rational_polynomial", "equidistant")


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a depth image of size (height, width)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = ()   #: CameraInfo.d; empty or all zero = none
    distortion_model: str = "plumb_bob"

    @classmethod
    def from_k(cls, k: Sequence[float], *, width: int, height: int,
               d: Sequence[float] = (), distortion_model: str = "plumb_bob"
               ) -> "CameraIntrinsics":
        """Build from a row-major 3x3 K and D (sensor_msgs/CameraInfo.k, .d,
        .distortion_model); rejects unusable values."""
        if len(k) != 9:
            raise InvalidCameraInfo(f"K must have 9 elements, got {len(k)}")
        fx, fy, cx, cy = float(k[0]), float(k[4]), float(k[2]), float(k[5])
        coeffs = tuple(float(v) for v in d)
        intr = cls(fx=fx, fy=fy, cx=cx, cy=cy, width=int(width), height=int(height),
                   distortion=coeffs if any(v != 0.0 for v in coeffs) else (),
                   distortion_model=distortion_model or "plumb_bob")
        intr.validate()
        return intr

    @property
    def distorted(self) -> bool:
        return any(v != 0.0 for v in self.distortion)

    def _k(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def undistort_pixels(self, row: np.ndarray, col: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Raw-image pixels -> where an ideal pinhole camera with the same K sees them."""
        if not self.distorted:
            return row, col
        pts = np.stack([np.ravel(col), np.ravel(row)], axis=-1).reshape(-1, 1, 2)
        d = np.asarray(self.distortion, np.float64)
        if self.distortion_model == "equidistant":
            out = cv2.fisheye.undistortPoints(pts, self._k(), d[:4], P=self._k())
        else:
            out = cv2.undistortPoints(pts, self._k(), d, P=self._k())
        out = out.reshape(-1, 2)
        return out[:, 1].reshape(np.shape(row)), out[:, 0].reshape(np.shape(col))

    def distort_pixels(self, row: np.ndarray, col: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Ideal pinhole pixels -> where the raw image shows them (inverse of undistort)."""
        if not self.distorted:
            return row, col
        rays = np.stack([(np.ravel(col) - self.cx) / self.fx, (np.ravel(row) - self.cy) / self.fy,
                         np.ones(np.size(row))], axis=-1).reshape(-1, 1, 3)
        d = np.asarray(self.distortion, np.float64)
        if self.distortion_model == "equidistant":
            out, _ = cv2.fisheye.projectPoints(rays, np.zeros(3), np.zeros(3), self._k(), d[:4])
        else:
            out, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), self._k(), d)
        out = out.reshape(-1, 2)
        return out[:, 1].reshape(np.shape(row)), out[:, 0].reshape(np.shape(col))

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
        if self.distorted:
            if self.distortion_model not in DISTORTION_MODELS:
                raise InvalidCameraInfo(
                    f"distortion model '{self.distortion_model}' with non-zero D "
                    f"{list(self.distortion)} is not supported; known: {DISTORTION_MODELS}")
            if not np.isfinite(self.distortion).all():
                raise InvalidCameraInfo(f"non-finite distortion D {list(self.distortion)}")
            if len(self.distortion) not in (4, 5, 8, 12, 14):
                raise InvalidCameraInfo(f"D of the {self.distortion_model} model has "
                                        f"{len(self.distortion)} values; expected 4, 5, 8, 12 "
                                        f"or 14")

    def check_image(self, height: int, width: int) -> None:
        """Raise InvalidCameraInfo when an image's size differs from the calibrated size."""
        if (height, width) != (self.height, self.width):
            raise InvalidCameraInfo(
                f"depth image is {width}x{height} but CameraInfo describes "
                f"{self.width}x{self.height}")

    def pixel_to_point(self, row: float | np.ndarray, col: float | np.ndarray,
                       depth_m: float | np.ndarray) -> np.ndarray:
        """Deproject pixel(s) at a depth along the optical axis to (..., 3) points in metres
        (pixels of the raw image: undistorted first when D is non-zero)."""
        row, col, z = np.broadcast_arrays(np.asarray(row, np.float64),
                                          np.asarray(col, np.float64),
                                          np.asarray(depth_m, np.float64))
        row, col = self.undistort_pixels(row, col)
        x = (col - self.cx) * z / self.fx
        y = (row - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=-1)

    def point_to_pixel(self, point_xyz: np.ndarray) -> np.ndarray:
        """Project (..., 3) points in metres to (..., 2) pixels as (row, col) of the raw
        image (distorted when D is non-zero)."""
        p = np.asarray(point_xyz, np.float64)
        col = self.fx * p[..., 0] / p[..., 2] + self.cx
        row = self.fy * p[..., 1] / p[..., 2] + self.cy
        row, col = self.distort_pixels(row, col)
        return np.stack([row, col], axis=-1)
