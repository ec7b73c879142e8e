"""Grasps in the image <-> grasps in the world, and graded grasp labels from gripper trials."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pybullet
from scipy import ndimage

from grasp_seg_ros.core.pose import GraspPose
from grasp_seg_ros.core.rectangles import GraspRectangle
from grasp_seg_ros.sim.camera import CameraConfig
from grasp_seg_ros.sim.gripper import Gripper, GripperProfile, TrialConfig, WorldGrasp
from grasp_seg_ros.sim.scene import Scene

#: how label trials are run (GradeConfig.trial)
LABEL_TRIALS = ("fast", "evaluation")


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


# -- graded, orientation-bearing labels ------------------------------------------------------

@dataclass(frozen=True)
class GradeConfig:
    """Graded labels: several closing angles at each centre, each tried under perturbations.

    Args:
        centres_per_object: grasp centres per visible object, drawn from the middle of its
            image (distance transform of its mask >= ``medial_fraction`` of the maximum).
        angles: closing directions per centre, evenly over 180 deg (random offset).
        perturbations: extra trials of a grasp whose nominal trial held, each moved by up to
            ``shift_m``, turned by up to ``turn_deg`` and opened by ``opening_m`` more or less.
            A grasp whose nominal trial fails scores 0 without them.
        good_robustness: grasps at or above it go into Jacquard's grasps file.
        time_scale: the trials' step multiplier (see TrialConfig.time_scale).
        approach_m: the fingers start this far above the grasp (a shorter descent; the
            fingers still sweep down past everything above the grasp).
        lift_m: lift height before the shake and the wrist's turn.
        neighbourhood_m: objects farther than this from the one being labelled are left
            out of its trials (nothing the gripper does there can reach them).
        trial: ``'fast'``: the profile's trial sped up and shortened by ``time_scale``,
            ``approach_m`` and ``lift_m``, the fingers opened to the candidate's opening;
            ``'evaluation'``: the profile's own trial, the fingers opened as ``sim-eval``
            opens a published grasp (the opening plus the trial's margin). About 2.8x the cost;
            its robustness predicts an evaluation trial's outcome better (README, "Label
            trials as the evaluation runs them").
    """

    centres_per_object: int = 2
    angles: int = 6
    perturbations: int = 2
    shift_m: float = 0.004
    turn_deg: float = 10.0
    opening_m: tuple[float, float] = (-0.003, 0.006)
    medial_fraction: float = 0.5
    good_robustness: float = 0.5
    time_scale: float = 0.35
    approach_m: float = 0.05
    lift_m: float = 0.08
    neighbourhood_m: float = 0.05
    trial: str = "fast"

    def __post_init__(self) -> None:
        if self.trial not in LABEL_TRIALS:
            raise ValueError(f"label trial must be one of {LABEL_TRIALS}, got '{self.trial}'")

    def trial_for(self, profile: GripperProfile) -> tuple[TrialConfig, float]:
        """The trial a candidate is graded with, and how much narrower than the trial
        opens it the candidate is executed (so that the fingers open to the candidate's
        opening exactly, or to it plus the margin, as in ``sim-eval``)."""
        if self.trial == "evaluation":
            return profile.trial, 0.0
        trial = replace(profile.trial, time_scale=self.time_scale,
                        approach_m=min(profile.trial.approach_m, self.approach_m),
                        lift_m=min(profile.trial.lift_m, self.lift_m))
        return trial, trial.opening_margin_m


@dataclass(frozen=True)
class GradedGrasp:
    """One candidate: where and how it was tried, and the fraction of its trials that held."""

    body_id: int
    rectangle: GraspRectangle  #: image pixels of the depth it was labelled on
    world: WorldGrasp          #: width_m = the opening: the object's extent + clearance
    robustness: float          #: in [0, 1]
    trials: int                #: 0 = not tried (wider than the stroke)
    reason: str                #: 'tried' or 'too_wide'


def world_to_rectangle(world: WorldGrasp, camera: CameraConfig,
                       jaw_m: float) -> GraspRectangle:
    """A world grasp as an image rectangle (angle convention of core.grasp)."""
    c = np.array([world.x_m, world.y_m, world.surface_z_m])
    d = np.array([np.cos(world.yaw_rad), np.sin(world.yaw_rad), 0.0])
    e = np.array([-d[1], d[0], 0.0])
    pts = np.stack([c, c - d * world.width_m / 2, c + d * world.width_m / 2,
                    c - e * jaw_m / 2, c + e * jaw_m / 2])
    px = camera.intrinsics().point_to_pixel(camera.world_to_camera(pts))  # (row, col)
    closing = px[2] - px[1]
    angle = float(np.arctan2(-closing[0], closing[1]))
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2
    return GraspRectangle(row=float(px[0, 0]), col=float(px[0, 1]), angle_rad=angle,
                          opening_px=float(np.linalg.norm(closing)),
                          jaw_px=float(np.linalg.norm(px[4] - px[3])))


def _candidate(points_w: np.ndarray, centre_w: np.ndarray, yaw: float, jaw_half_m: float,
               clearance_m: float) -> WorldGrasp | None:
    """Centre the grasp on the object's extent along the closing direction through
    ``centre_w`` (a strip as wide as the pads); None when the strip is empty."""
    d = np.array([np.cos(yaw), np.sin(yaw)])
    rel = points_w[:, :2] - centre_w[:2]
    along, across = rel @ d, rel @ np.array([-d[1], d[0]])
    strip = np.abs(across) <= jaw_half_m
    if strip.sum() < 3:
        return None
    lo, hi = float(along[strip].min()), float(along[strip].max())
    mid = centre_w[:2] + d * 0.5 * (lo + hi)
    return WorldGrasp(x_m=float(mid[0]), y_m=float(mid[1]),
                      surface_z_m=float(points_w[strip, 2].max()), yaw_rad=float(yaw),
                      width_m=(hi - lo) + clearance_m)


def grade_objects(scene: Scene, gripper: Gripper, profile: GripperProfile, depth_m: np.ndarray,
                  seg: np.ndarray, rng: np.random.Generator,
                  config: GradeConfig = GradeConfig()) -> list[GradedGrasp]:
    """Graded, orientation-bearing labels for every visible object of a settled scene.

    ``depth_m`` is a clean render; ``gripper`` is ``profile``'s gripper in the scene.
    Failures are kept: each centre says which closing angles hold and which do not. The
    physics state is restored before every trial.
    """
    camera = scene.camera
    intr = camera.intrinsics()
    trial, narrower_m = config.trial_for(profile)
    jaw_m = gripper.config.jaw_m
    stroke = gripper.config.max_opening_m
    state = pybullet.saveState(physicsClientId=scene.client)
    out: list[GradedGrasp] = []

    def attempt(g: WorldGrasp, body: int) -> bool:
        return _holds(scene, gripper, state, trial, narrower_m, g, body)

    try:
        for obj in scene.objects:
            mask = (seg == obj.body_id) & np.isfinite(depth_m)
            core_mask = ndimage.binary_erosion(mask, iterations=2)
            if core_mask.sum() < 10:
                continue
            _isolate(scene, obj.body_id, config.neighbourhood_m)
            rows, cols = np.nonzero(mask)
            points_w = camera.camera_to_world(intr.pixel_to_point(rows, cols,
                                                                  depth_m[rows, cols]))
            dist = ndimage.distance_transform_edt(core_mask)
            medial = np.column_stack(np.nonzero(dist >= config.medial_fraction * dist.max()))
            picks = rng.choice(len(medial), min(config.centres_per_object, len(medial)),
                               replace=False)
            for r, c in medial[picks]:
                centre_w = camera.camera_to_world(intr.pixel_to_point(r, c, depth_m[r, c]))
                offset = rng.uniform(0.0, np.pi / config.angles)
                for k in range(config.angles):
                    yaw = offset + k * np.pi / config.angles - np.pi / 2
                    g = _candidate(points_w, centre_w, yaw, jaw_m / 2, profile.clearance_m)
                    if g is None:
                        continue
                    rect = world_to_rectangle(g, camera, jaw_m)
                    if g.width_m > stroke:
                        out.append(GradedGrasp(obj.body_id, rect, g, 0.0, 0, "too_wide"))
                        continue
                    held = _graded_trials(g, lambda w: attempt(w, obj.body_id), rng, config,
                                          stroke)
                    out.append(GradedGrasp(obj.body_id, rect, g, float(np.mean(held)),
                                           len(held), "tried"))
    finally:
        _isolate(scene, None, 0.0)
        pybullet.restoreState(state, physicsClientId=scene.client)
        pybullet.removeState(state, physicsClientId=scene.client)
    return out


def _holds(scene: Scene, gripper: Gripper, state: int, trial: TrialConfig,
           narrower_m: float, g: WorldGrasp, body: int) -> bool:
    """One label trial of ``g`` from the saved physics ``state``, opened ``narrower_m``
    less than the trial opens it (GradeConfig.trial_for); True when it lifts ``body``."""
    pybullet.restoreState(state, physicsClientId=scene.client)
    executed = replace(g, width_m=max(g.width_m - narrower_m, 0.0))
    return gripper.execute(executed, trial, table_z_m=scene.table_z_m) == body


def _graded_trials(g: WorldGrasp, attempt, rng: np.random.Generator, config: GradeConfig,
                   stroke_m: float) -> list[bool]:
    """The nominal trial of ``g`` and, when it held, its perturbed ones (``attempt(grasp)``
    runs one trial); a grasp whose nominal trial fails is not tried further."""
    held = [attempt(g)]
    if held[0]:
        for _ in range(config.perturbations):
            t = np.radians(rng.uniform(-config.turn_deg, config.turn_deg))
            shift = rng.uniform(-config.shift_m, config.shift_m, 2)
            width = g.width_m + rng.uniform(*config.opening_m)
            p = WorldGrasp(g.x_m + shift[0], g.y_m + shift[1], g.surface_z_m,
                           g.yaw_rad + t, float(min(width, stroke_m)))
            held.append(attempt(p))
    return held


def regrade(scene: Scene, gripper: Gripper, profile: GripperProfile,
            graded: list[GradedGrasp], rng: np.random.Generator,
            config: GradeConfig) -> list[GradedGrasp]:
    """``graded``'s candidates (the same centres, directions and openings) graded again with
    ``config``'s trials, e.g. another kind of label trial, in the scene's present state;
    perturbations are drawn anew from ``rng``; untried candidates stay untried."""
    trial, narrower_m = config.trial_for(profile)
    stroke = gripper.config.max_opening_m
    state = pybullet.saveState(physicsClientId=scene.client)
    out: list[GradedGrasp] = []

    def attempt(g: WorldGrasp, body: int) -> bool:
        return _holds(scene, gripper, state, trial, narrower_m, g, body)

    try:
        for g in graded:
            if not g.trials:
                out.append(g)
                continue
            _isolate(scene, g.body_id, config.neighbourhood_m)
            held = _graded_trials(g.world, lambda w: attempt(w, g.body_id), rng, config,
                                  stroke)
            out.append(replace(g, robustness=float(np.mean(held)), trials=len(held)))
    finally:
        _isolate(scene, None, 0.0)
        pybullet.restoreState(state, physicsClientId=scene.client)
        pybullet.removeState(state, physicsClientId=scene.client)
    return out


def _isolate(scene: Scene, body_id: int | None, neighbourhood_m: float) -> None:
    """Switch off the collisions of objects farther than ``neighbourhood_m`` from
    ``body_id``'s bounding box (they cannot touch a gripper working on it, and resting
    contacts are most of a step's cost); None switches every object back on."""
    client = scene.client
    if body_id is not None:
        lo, hi = (np.asarray(v) for v in pybullet.getAABB(body_id, physicsClientId=client))
    for obj in scene.objects:
        on = True
        if body_id is not None and obj.body_id != body_id:
            olo, ohi = (np.asarray(v) for v in pybullet.getAABB(obj.body_id,
                                                                physicsClientId=client))
            gap = np.maximum(np.maximum(olo - hi, lo - ohi), 0.0)[:2]
            on = bool(np.linalg.norm(gap) <= neighbourhood_m)
        # dynamic bodies' defaults: group 1, mask all; off: nothing collides with it (a body
        # switched off falls through the table, and the next restoreState puts it back)
        pybullet.setCollisionFilterGroupMask(obj.body_id, -1, 1 if on else 0,
                                             -1 if on else 0, physicsClientId=client)
