"""Which grasps a manipulation stack can use: inside a workspace box, on one object, with room
for the fingers. Pure numpy; the node builds a GraspSelection per frame.

Frames: the detector works in the depth image's optical frame. A ``RigidTransform`` maps
optical-frame points into the frame the workspace box is given in (the node's target frame,
or the optical frame itself).

Clearance (what it checks, and what it cannot): each finger descends along the grasp's
approach axis beside the grasp centre, in a footprint ``finger_thickness_m`` deep along the
closing axis (just outside the published opening) and ``finger_width_m`` wide across it. A
grasp is blocked when enough of the surface the camera sees inside either footprint lies
above the depth the finger tips must reach (``reach_m`` below the grasp point). Only what the
camera sees is checked: the far side of an object, and anything hidden behind it, is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.pose import GraspPose

#: a footprint is blocked when more than this fraction of its seen pixels (and at least
#: CLEARANCE_MIN_POINTS) are above the finger reach: single noisy pixels do not block
CLEARANCE_FRACTION = 0.02
CLEARANCE_MIN_POINTS = 3


@dataclass(frozen=True)
class RigidTransform:
    """p_target = rotation @ p_source + translation."""

    rotation: np.ndarray      #: (3, 3)
    translation: np.ndarray   #: (3,)

    @classmethod
    def identity(cls) -> "RigidTransform":
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def from_translation_quaternion(cls, translation: Sequence[float],
                                    quat_xyzw: Sequence[float]) -> "RigidTransform":
        """The pose of the source frame in the target frame (as tf2 gives it, or as
        ``static_transform_publisher`` takes it with frame_id = target)."""
        t = np.asarray(translation, np.float64)
        q = np.asarray(quat_xyzw, np.float64)
        if t.shape != (3,) or not np.isfinite(t).all():
            raise ValueError(f"a translation is 3 finite numbers, got {list(translation)}")
        norm = np.linalg.norm(q) if q.shape == (4,) else 0.0
        if q.shape != (4,) or not np.isfinite(q).all() or abs(norm - 1.0) > 1e-3:
            raise ValueError(f"a rotation is a unit quaternion (x, y, z, w), got "
                             f"{list(quat_xyzw)}")
        return cls(Rotation.from_quat(q / norm).as_matrix(), t)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) points -> (..., 3) points in the target frame."""
        return np.asarray(points, np.float64) @ self.rotation.T + self.translation

    def apply_pose(self, position: np.ndarray,
                   quat_xyzw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A pose (position, orientation) in the source frame -> the same in the target."""
        rot = Rotation.from_matrix(self.rotation) * Rotation.from_quat(quat_xyzw)
        return self.apply(position), rot.as_quat()

    def apply_grasp(self, grasp: GraspPose) -> GraspPose:
        """A grasp pose in the source frame -> the same grasp in the target frame (image
        values, width and quality unchanged)."""
        position, quat = self.apply_pose(grasp.position_m, grasp.quat_xyzw)
        return replace(grasp, position_m=position, quat_xyzw=quat)


@dataclass(frozen=True)
class WorkspaceBox:
    """An axis-aligned box, metres, in the frame of the selection's transform."""

    min_m: tuple[float, float, float]
    max_m: tuple[float, float, float]

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.min_m, float), np.asarray(self.max_m, float)
        if lo.shape != (3,) or hi.shape != (3,) or not (np.isfinite(lo).all()
                                                        and np.isfinite(hi).all()):
            raise ValueError(f"a workspace box is 3 finite minima and 3 maxima, got "
                             f"{list(self.min_m)} and {list(self.max_m)}")
        if (lo >= hi).any():
            raise ValueError(f"workspace minimum {list(self.min_m)} must be below its maximum "
                             f"{list(self.max_m)} on every axis")

    def contains(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points)
        return ((p >= np.asarray(self.min_m)) & (p <= np.asarray(self.max_m))).all(axis=-1)


@dataclass(frozen=True)
class Clearance:
    """The finger footprints the clearance test checks (module docstring)."""

    finger_thickness_m: float = 0.01
    finger_width_m: float = 0.02
    reach_m: float = 0.01

    def blocked(self, pose: GraspPose, depth_m: np.ndarray,
                intrinsics: CameraIntrinsics) -> bool:
        """True when a finger footprint of ``pose`` holds seen surface above the reach.

        ``depth_m`` is the full depth image (metres, NaN = not seen) the pose came from.
        """
        rot = Rotation.from_quat(pose.quat_xyzw).as_matrix()
        centre = np.asarray(pose.position_m, np.float64)
        half = 0.5 * pose.width_m
        outer = half + self.finger_thickness_m
        radius_m = float(np.hypot(outer, 0.5 * self.finger_width_m))
        # a window around the grasp that holds every pixel whose ray can pass through a
        # footprint nearer the camera than the grasp (objects up to half its depth nearer)
        z = max(float(centre[2]), 1e-3)
        r_px = int(np.ceil(2.0 * max(intrinsics.fx, intrinsics.fy) * radius_m / z)) + 2
        row0, col0 = (int(round(v)) for v in pose.image_px)
        top, bottom = max(row0 - r_px, 0), min(row0 + r_px + 1, depth_m.shape[0])
        left, right = max(col0 - r_px, 0), min(col0 + r_px + 1, depth_m.shape[1])
        if top >= bottom or left >= right:
            return False
        rows, cols = np.mgrid[top:bottom, left:right]
        z_img = depth_m[top:bottom, left:right]
        seen = np.isfinite(z_img) & (z_img > 0)
        points = intrinsics.pixel_to_point(rows[seen], cols[seen], z_img[seen])
        local = (points - centre) @ rot   # grasp frame: x closing, y across, z approach
        across = np.abs(local[:, 1]) <= 0.5 * self.finger_width_m
        along = np.abs(local[:, 0])
        for side in (-1.0, 1.0):
            in_print = across & (along >= half) & (along <= outer) & (side * local[:, 0] > 0)
            n = int(in_print.sum())
            if n == 0:
                continue
            above = int((local[in_print, 2] < self.reach_m).sum())
            if above >= max(CLEARANCE_MIN_POINTS, CLEARANCE_FRACTION * n):
                return True
        return False


@dataclass(frozen=True)
class GraspSelection:
    """Restrictions on the grasps of one frame; every part is optional.

    ``to_frame`` maps optical-frame points into the workspace box's frame; ``mask`` is a
    boolean image of the depth image's size (True = the object to grasp).
    """

    workspace: WorkspaceBox | None = None
    to_frame: RigidTransform | None = None
    mask: np.ndarray | None = None
    clearance: Clearance | None = None

    @property
    def restricts_cells(self) -> bool:
        return self.workspace is not None or self.mask is not None

    def describe(self) -> str:
        parts = [name for name, on in (("inside the workspace box", self.workspace),
                                       ("on the mask", self.mask)) if on is not None]
        return " and ".join(parts)

    def allowed_cells(self, points_m: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """(S, S) bool: network cells whose surface point (``points_m``, (S, S, 3) optical
        frame) lies in the workspace and whose image pixel (``pixels``, (S, S, 2) row/col)
        lies on the mask."""
        allowed = np.isfinite(points_m).all(axis=-1)
        if self.workspace is not None:
            to_frame = self.to_frame or RigidTransform.identity()
            allowed &= self.workspace.contains(to_frame.apply(points_m))
        if self.mask is not None:
            h, w = self.mask.shape
            r = np.rint(np.nan_to_num(pixels[..., 0], nan=-1.0)).astype(np.int64)
            c = np.rint(np.nan_to_num(pixels[..., 1], nan=-1.0)).astype(np.int64)
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            on_mask = np.zeros(allowed.shape, bool)
            on_mask[inside] = self.mask[r[inside], c[inside]]
            allowed &= on_mask
        return allowed

    def acceptor(self, depth_m: np.ndarray,
                 intrinsics: CameraIntrinsics) -> Callable[[GraspPose], bool] | None:
        """A per-grasp test for the clearance check, or None when there is none."""
        if self.clearance is None:
            return None
        clearance = self.clearance
        return lambda pose: not clearance.blocked(pose, depth_m, intrinsics)
