"""A simulated depth camera: real cameras' intrinsics, any height and tilt.

One CameraConfig describes size, intrinsics and pose; ``render`` turns PyBullet's z-buffer
into metric depth along the optical axis in one place.

World frame: z up, table surface at z = 0. By default the camera looks straight down from
``height_m`` above ``target_xy_m`` with D435-like intrinsics; its optical frame (x right,
y down, z forward) then has x = world +x, y = world -y, z = world -z. ``tilt_deg`` tips the
optical axis towards the horizon while it still looks at the target; ``camera_model`` and
``random_camera`` give D435/D405/L515-like cameras with their noise models.
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
    """Image size, pinhole intrinsics and pose of the simulated depth camera.

    The camera looks at ``target_xy_m`` on the table from ``height_m`` above it, its optical
    axis ``tilt_deg`` from straight down; ``azimuth_deg`` is the horizontal direction it looks
    in (from world +x), which is also "up" in the image. tilt 0 and azimuth 90 give the
    top-down camera with x = world +x, y = world -y, z = world -z.
    """

    width: int = 640
    height: int = 480
    fx: float = 385.0
    fy: float = 385.0
    height_m: float = 0.55
    target_xy_m: tuple[float, float] = (0.0, 0.0)
    tilt_deg: float = 0.0
    azimuth_deg: float = 90.0
    near_m: float = 0.05
    far_m: float = 3.0
    frame_id: str = "camera_depth_optical_frame"
    name: str = "d435"

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

    @property
    def _up_hint(self) -> np.ndarray:
        az = np.radians(self.azimuth_deg)
        return np.array([np.cos(az), np.sin(az), 0.0])

    @property
    def eye_m(self) -> np.ndarray:
        """The camera's position in the world."""
        x0, y0 = self.target_xy_m
        back = self.height_m * np.tan(np.radians(self.tilt_deg)) * self._up_hint
        return np.array([x0 - back[0], y0 - back[1], self.height_m])

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) world_R_optical: columns are the optical x, y, z axes in the world."""
        z = np.array([*self.target_xy_m, 0.0]) - self.eye_m
        z /= np.linalg.norm(z)
        up = self._up_hint - (self._up_hint @ z) * z
        y = -up / np.linalg.norm(up)
        x = np.cross(y, z)
        return np.column_stack([x, y, z])

    def camera_to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """Optical-frame points (..., 3) -> world points."""
        p = np.asarray(points_cam, np.float64)
        return p @ self.rotation.T + self.eye_m

    def world_to_camera(self, points_world: np.ndarray) -> np.ndarray:
        p = np.asarray(points_world, np.float64)
        return (p - self.eye_m) @ self.rotation

    def view_matrix(self) -> list[float]:
        # OpenGL's "up" is image up: the horizontal direction the camera looks in
        return pybullet.computeViewMatrix(cameraEyePosition=self.eye_m.tolist(),
                                          cameraTargetPosition=[*self.target_xy_m, 0.0],
                                          cameraUpVector=self._up_hint.tolist())

    def projection_matrix(self) -> list[float]:
        fov_deg = float(np.degrees(2.0 * np.arctan(self.height / (2.0 * self.fy))))
        return pybullet.computeProjectionMatrixFOV(fov=fov_deg, aspect=self.width / self.height,
                                                   nearVal=self.near_m, farVal=self.far_m)


#: Depth-stream intrinsics of real cameras (focal lengths in pixels at each size; the
#: simulated principal point is the image centre). D435: 87 deg wide stereo depth;
#: D405: short-range stereo; L515: 70 deg lidar.
CAMERA_MODELS: dict[str, dict[str, tuple[int, int, float]]] = {
    "d435": {"640x480": (640, 480, 385.0), "848x480": (848, 480, 427.0)},
    "d405": {"640x480": (640, 480, 433.0), "848x480": (848, 480, 434.0)},
    "l515": {"640x480": (640, 480, 457.0), "1024x768": (1024, 768, 730.0)},
}

#: The noise model of each camera kind.
CAMERA_NOISE: dict[str, DepthNoise] = {
    "d435": DepthNoise(),
    # short-range stereo: finer near, worse far, smaller holes
    "d405": DepthNoise(sigma_base_m=0.0002, sigma_quadratic_per_m=0.003, edge_dropout=0.4,
                       holes_per_frame=1.0, hole_radius_px=(2, 5)),
    # time of flight: roughly constant noise, flying pixels on edges, few holes
    "l515": DepthNoise(sigma_base_m=0.0012, sigma_quadratic_per_m=0.0, edge_dropout=0.3,
                       holes_per_frame=0.5, hole_radius_px=(2, 4)),
}


def camera_model(name: str, size: str = "640x480", **pose: float) -> CameraConfig:
    """A CameraConfig with a real camera's depth intrinsics, e.g. camera_model('d405',
    '848x480', height_m=0.4, tilt_deg=20)."""
    if name not in CAMERA_MODELS:
        raise ValueError(f"unknown camera '{name}'; known: {sorted(CAMERA_MODELS)}")
    if size not in CAMERA_MODELS[name]:
        raise ValueError(f"camera '{name}' has no {size} mode; known: "
                         f"{sorted(CAMERA_MODELS[name])}")
    w, h, f = CAMERA_MODELS[name][size]
    return CameraConfig(width=w, height=h, fx=f, fy=f, name=name, **pose)


def random_camera(rng: np.random.Generator, *,
                  height_range_m: tuple[float, float] = (0.3, 1.0), max_tilt_deg: float = 35.0,
                  target_xy_m: tuple[float, float] = (0.0, 0.0)
                  ) -> tuple[CameraConfig, DepthNoise]:
    """A camera of a random real kind and mode, height, tilt and azimuth, with its noise."""
    name = sorted(CAMERA_MODELS)[int(rng.integers(len(CAMERA_MODELS)))]
    sizes = sorted(CAMERA_MODELS[name])
    size = sizes[int(rng.integers(len(sizes)))]
    tilt = float(rng.uniform(0.0, max_tilt_deg)) if rng.random() < 0.7 else 0.0
    camera = camera_model(name, size, height_m=float(rng.uniform(*height_range_m)),
                          tilt_deg=tilt, azimuth_deg=float(rng.uniform(0.0, 360.0)),
                          target_xy_m=target_xy_m)
    return camera, CAMERA_NOISE[name]


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
