"""Grasps in the image <-> grasps in the world, and grasp labels verified by gripper trials."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet
from scipy import ndimage

from grasp_seg_ros.core.pose import GraspPose
from grasp_seg_ros.core.rectangles import GraspRectangle
from grasp_seg_ros.sim.camera import CameraConfig
from grasp_seg_ros.sim.gripper import Gripper, TrialConfig, WorldGrasp
from grasp_seg_ros.sim.scene import Scene


def image_grasp_to_world(row: float, col: float, angle_rad: float, width_m: float,
                         depth_m: float, camera: CameraConfig) -> WorldGrasp:
    """An image-plane grasp (angle convention of core.grasp) at a depth -> world grasp."""
    intr = camera.intrinsics()
    centre = intr.pixel_to_point(row, col, depth_m)
    closing_px = np.array([-np.sin(angle_rad), np.cos(angle_rad)])  # (d_row, d_col)
    tip = intr.pixel_to_point(row + closing_px[0], col + closing_px[1], depth_m)
    c_w, t_w = camera.camera_to_world(centre), camera.camera_to_world(tip)
    d = t_w - c_w
    return WorldGrasp(x_m=float(c_w[0]), y_m=float(c_w[1]), surface_z_m=float(c_w[2]),
                      yaw_rad=float(np.arctan2(d[1], d[0])), width_m=float(width_m))


def pose_to_world_grasp(pose: GraspPose, camera: CameraConfig) -> WorldGrasp:
    """A detector's pose (camera optical frame) -> the world grasp the gripper executes."""
    c_w = camera.camera_to_world(pose.position_m)
    d = camera.camera_to_world(pose.position_m + pose.closing_axis) - c_w
    return WorldGrasp(x_m=float(c_w[0]), y_m=float(c_w[1]), surface_z_m=float(c_w[2]),
                      yaw_rad=float(np.arctan2(d[1], d[0])), width_m=float(pose.width_m))


@dataclass(frozen=True)
class LabelConfig:
    """Antipodal candidate sampling for trial-verified labels.

    Args:
        candidates_per_object: candidates tried per object.
        band_px: half-width of the strip used to measure the object across a candidate.
        margin_px: extra opening added to the measured extent, in image pixels.
    """

    candidates_per_object: int = 24
    band_px: float = 2.0
    margin_px: float = 4.0
    trial: TrialConfig = TrialConfig()


@dataclass(frozen=True)
class TrialResult:
    body_id: int
    rectangle: GraspRectangle   #: image pixels
    success: bool


def extent_across(mask_rc: np.ndarray, row: float, col: float, angle_rad: float,
                  band_px: float) -> float:
    """Length of the object's pixels along the closing direction through (row, col)."""
    closing = np.array([-np.sin(angle_rad), np.cos(angle_rad)])
    rel = mask_rc - np.array([row, col])
    along = rel @ closing
    across = rel @ np.array([closing[1], -closing[0]])
    strip = along[np.abs(across) <= band_px]
    return float(strip.max() - strip.min() + 1.0) if strip.size else 0.0


def label_objects(scene: Scene, gripper: Gripper, depth_m: np.ndarray, seg: np.ndarray,
                  rng: np.random.Generator, config: LabelConfig = LabelConfig()
                  ) -> list[TrialResult]:
    """Sample antipodal candidates on every visible object and try each with the gripper.

    ``depth_m`` is a clean render of the settled scene; the physics state is restored before
    every trial, so trials never disturb each other.
    """
    camera = scene.camera
    fx = camera.fx
    state = pybullet.saveState(physicsClientId=scene.client)
    results: list[TrialResult] = []
    try:
        for obj in scene.objects:
            mask = seg == obj.body_id
            core_mask = ndimage.binary_erosion(mask, iterations=2)
            if core_mask.sum() < 10:
                continue
            pixels = np.column_stack(np.nonzero(mask)).astype(np.float64)
            centres = np.column_stack(np.nonzero(core_mask))
            picks = rng.integers(0, len(centres), config.candidates_per_object)
            angles = rng.uniform(-np.pi / 2, np.pi / 2, config.candidates_per_object)
            for (r, c), a in zip(centres[picks], angles):
                z = float(depth_m[r, c])
                opening_px = extent_across(pixels, r, c, a, config.band_px) \
                    + 2 * config.margin_px
                width_m = opening_px * z / fx
                rect = GraspRectangle(row=float(r), col=float(c), angle_rad=float(a),
                                      opening_px=opening_px,
                                      jaw_px=gripper.config.jaw_m * fx / z)
                if width_m > gripper.config.max_opening_m:
                    results.append(TrialResult(obj.body_id, rect, False))
                    continue
                pybullet.restoreState(state, physicsClientId=scene.client)
                grasp = image_grasp_to_world(r, c, a, width_m - config.trial.opening_margin_m,
                                             z, camera)
                held = gripper.execute(grasp, config.trial, table_z_m=scene.table_z_m)
                results.append(TrialResult(obj.body_id, rect, held == obj.body_id))
    finally:
        pybullet.restoreState(state, physicsClientId=scene.client)
        pybullet.removeState(state, physicsClientId=scene.client)
    return results
