"""A simulated top-down depth camera with RealSense D435-like intrinsics.

One CameraConfig describes size, intrinsics and pose; ``render_depth_m`` turns PyBullet's
z-buffer into metric depth along the optical axis in one place.

World frame: z up, table surface at z = 0. The camera looks straight down from
``height_m`` above ``target_xy_m``; its optical frame (x right, y down, z forward) has
x = world +x, y = world -y, z = world -z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet

from grasp_seg_ros.core.camera import CameraIntrinsics


@dataclass(frozen=True)
class DepthNoise:
    """A stereo-like depth sensor model; every term can be switched off with 0.

    Args:
        sigma_base_m: depth-independent noise std.
        sigma_quadratic_per_m: std growing with depth squared (stereo error ~ z^2).
        edge_dropout: probability of losing a pixel on a depth edge.
        edge_threshold_m: depth jump between neighbours that counts as an edge.
        holes_per_frame: mean number of elliptic holes (specular or dark patches).
        hole_radius_px: (min, max) radius of those holes.
    """

    sigma_base_m: float = 0.0005
    sigma_quadratic_per_m: float = 0.002
    edge_dropout: float = 0.5
    edge_threshold_m: float = 0.01
    holes_per_frame: float = 2.0
    hole_radius_px: tuple[int, int] = (2, 8)

    def apply(self, depth_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import cv2  # local: only the noisy path needs it

        noisy = depth_m + rng.normal(0.0, 1.0, depth_m.shape).astype(np.float32) * (
            self.sigma_base_m + self.sigma_quadratic_per_m * depth_m ** 2)
        if self.edge_dropout > 0.0:
            jump = np.zeros(depth_m.shape, bool)
            jump[:, 1:] |= np.abs(np.diff(depth_m, axis=1)) > self.edge_threshold_m
            jump[1:, :] |= np.abs(np.diff(depth_m, axis=0)) > self.edge_threshold_m
            jump = cv2.dilate(jump.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            noisy[jump & (rng.random(depth_m.shape) < self.edge_dropout)] = np.nan
        h, w = depth_m.shape
        for _ in range(rng.poisson(self.holes_per_frame)):
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = tuple(int(a) for a in rng.integers(*self.hole_radius_px, size=2, endpoint=True))
            mask = np.zeros((h, w), np.uint8)
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
            noisy[mask.astype(bool)] = np.nan
        return noisy.astype(np.float32)


@dataclass(frozen=True)
class CameraConfig:
    """Image size, pinhole intrinsics and pose of the simulated depth camera."""

    width: int = 640
    height: int = 480
    fx: float = 385.0
    fy: float = 385.0
    height_m: float = 0.55
    target_xy_m: tuple[float, float] = (0.0, 0.0)
    near_m: float = 0.05
    far_m: float = 3.0
    frame_id: str = "camera_depth_optical_frame"

    @property
    def cx(self) -> float:
        # OpenGL puts the optical axis on the image centre: pixel-centre coordinates
        return self.width / 2.0 - 0.5

    @property
    def cy(self) -> float:
        return self.height / 2.0 - 0.5

    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics(fx=self.fx, fy=self.fy, cx=self.cx, cy=self.cy,
                                width=self.width, height=self.height)

    def k(self) -> list[float]:
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    def camera_to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """Optical-frame points (..., 3) -> world points."""
        p = np.asarray(points_cam, np.float64)
        x0, y0 = self.target_xy_m
        return np.stack([x0 + p[..., 0], y0 - p[..., 1], self.height_m - p[..., 2]], axis=-1)

    def world_to_camera(self, points_world: np.ndarray) -> np.ndarray:
        p = np.asarray(points_world, np.float64)
        x0, y0 = self.target_xy_m
        return np.stack([p[..., 0] - x0, y0 - p[..., 1], self.height_m - p[..., 2]], axis=-1)

    def view_matrix(self) -> list[float]:
        x0, y0 = self.target_xy_m
        # image rows run along world -y, so OpenGL's "up" is world +y
        return pybullet.computeViewMatrix(cameraEyePosition=[x0, y0, self.height_m],
                                          cameraTargetPosition=[x0, y0, 0.0],
                                          cameraUpVector=[0.0, 1.0, 0.0])

    def projection_matrix(self) -> list[float]:
        fov_deg = float(np.degrees(2.0 * np.arctan(self.height / (2.0 * self.fy))))
        return pybullet.computeProjectionMatrixFOV(fov=fov_deg, aspect=self.width / self.height,
                                                   nearVal=self.near_m, farVal=self.far_m)


def render(camera: CameraConfig, client: int) -> tuple[np.ndarray, np.ndarray]:
    """Render (depth_m, segmentation) with PyBullet's software renderer.

    depth_m: (H, W) float32 metres along the optical axis; segmentation: (H, W) int body ids
    (-1 for background).
    """
    _, _, _, zbuf, seg = pybullet.getCameraImage(
        camera.width, camera.height, viewMatrix=camera.view_matrix(),
        projectionMatrix=camera.projection_matrix(), renderer=pybullet.ER_TINY_RENDERER,
        flags=pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX, physicsClientId=client)
    zbuf = np.asarray(zbuf, np.float64).reshape(camera.height, camera.width)
    n, f = camera.near_m, camera.far_m
    depth_m = (f * n / (f - (f - n) * zbuf)).astype(np.float32)
    seg = np.asarray(seg, np.int64).reshape(camera.height, camera.width)
    body = np.where(seg >= 0, seg & ((1 << 24) - 1), -1)
    return depth_m, body
