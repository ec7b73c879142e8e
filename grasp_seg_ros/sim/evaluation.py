"""Simulated grasp trials as a benchmark: the node's detector (or the baseline) picks a grasp
from a rendered depth image, the simulated gripper executes it.

    grasp-seg sim-eval --model ggcnn --split test --scenario isolated --trials 100
    grasp-seg sim-eval --model baseline --scenario clutter --gripper franka --camera tilted
    grasp-seg sim-eval --model ggcnn2_heightmap --scenario clutter --quality-threshold 0.2
    grasp-seg sim-eval --model search --scenario isolated --trials 100    # a ceiling

isolated: one object per scene, one attempt. clutter: 5-8 objects in a tray, picked until the
tray is empty or 1.5 attempts per object are used; every attempt counts. Success = an object
lifted and held through the gripper profile's trial (the realistic profiles shake and turn the
wrist). Cameras: ``top`` (D435 intrinsics, 0.55 m straight down: the first training setting),
``tilted`` (the same camera 0.55 m high, looking at the workspace 30 deg from vertical), ``far``
(a D435 on a stand 0.9 m high, tilted 20 deg) and ``wrist`` (a D405 0.35 m straight down).
``--quality-threshold`` sets the node's quality_threshold (a frame with no grasp rated that
well counts as a missed attempt: "no grasp").
Objects have masses from their volume (sim.objects.ObjectPhysics). Writes a CSV of attempts,
a JSON summary and a contact sheet PNG.

``--repeats N``: after each attempt, its grasp is executed N more times from the same moment
(the physics restored), each moved by up to ``RepeatJitter.shift_m`` and turned by up to
``turn_deg``, the errors of a calibrated camera and arm. The share of repeats that hold is how
reliable the chosen grasp was: a success whose grasp holds in few of its repeats was lucky, a
miss whose grasp holds in most of them unlucky (the trials are chaotic near the edge of a
grasp). ``--repeat-shift 0 --repeat-turn 0`` repeats the very grasp: how often the trial
itself decides otherwise from the same moment, the noise under every success rate here. The
repeats run after the attempt, so isolated attempts are those without repeats. In
clutter the world is put back as the attempt left it, but not bit for bit (PyBullet's saved
state leaves the solver's warm start out), so from the second pick of a tray on the views
differ from a run without repeats: compare clutter runs with repeats with each other.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pybullet
from scipy.stats import binomtest
from tqdm import tqdm

from grasp_seg_ros.core.draw import draw_grasps
from grasp_seg_ros.core.errors import GraspSegError, NoGraspFound
from grasp_seg_ros.core.grasp import Grasp2D
from grasp_seg_ros.core.selection import Clearance, GraspSelection, RigidTransform, WorkspaceBox
from grasp_seg_ros.sim.camera import CAMERA_NOISE, CameraConfig, DepthNoise, camera_model
from grasp_seg_ros.sim.gripper import (DEFAULT_GRIPPER, GRIPPERS, Gripper, GripperConfig,
                                       GripperProfile, WorldGrasp, gripper_profile)
from grasp_seg_ros.sim.scene import Scene, SceneConfig, make_scene
from grasp_seg_ros.sim.trials import (GradeConfig, grade_objects, pose_to_world_grasp,
                                      world_to_rectangle)
from grasp_seg_ros.core.resources import DEFAULT_MODEL
from grasp_seg_ros.inference.augment import AUGMENTS
from grasp_seg_ros.inference.backends import BACKENDS, PRECISIONS
from grasp_seg_ros.sim.seeds import first_seed

LOG = logging.getLogger(__name__)
EVAL_SEED_OFFSET = first_seed("sim_eval")
SCENARIOS = ("isolated", "clutter")
#: the cameras of sim-eval, by name
EVAL_CAMERAS: dict[str, CameraConfig] = {
    "top": camera_model("d435", height_m=0.55),
    "tilted": camera_model("d435", height_m=0.55, tilt_deg=30.0),
    # a stand farther off (2.3 mm per pixel at the table: coarser than the 2 mm map)
    "far": camera_model("d435", height_m=0.9, tilt_deg=20.0),
    # short-range stereo close above the scene, as on a wrist before the approach
    "wrist": camera_model("d405", height_m=0.35),
}


@dataclass
class Attempt:
    scene_seed: int
    attempt: int
    target: str           #: label of the object lifted, or of the scene's objects
    success: bool
    reason: str           #: 'lifted', 'missed: <phase>' (Gripper.last_outcome), or why no
    #: grasp was predicted
    grasp: dict = field(default_factory=dict)
    thumbnail: np.ndarray | None = None
    #: with repeats: how many of the grasp's jittered re-executions lifted an object
    repeats_held: int | None = None
    repeats: int = 0


@dataclass(frozen=True)
class RepeatJitter:
    """How far a repeat of an attempt's grasp is moved (uniform in +-shift_m along x and y)
    and turned (uniform in +-turn_deg); the opening stays the published one."""

    shift_m: float = 0.002
    turn_deg: float = 5.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.shift_m < 0.05 and 0.0 <= self.turn_deg <= 90.0):
            raise ValueError(f"a repeat's jitter must be in [0, 0.05) m and [0, 90] deg, got "
                             f"{self.shift_m} m and {self.turn_deg} deg")

    def apply(self, grasp: WorldGrasp, rng: np.random.Generator) -> WorldGrasp:
        dx, dy = rng.uniform(-self.shift_m, self.shift_m, 2)
        turn = np.radians(rng.uniform(-self.turn_deg, self.turn_deg))
        return replace(grasp, x_m=grasp.x_m + float(dx), y_m=grasp.y_m + float(dy),
                       yaw_rad=grasp.yaw_rad + float(turn))


def repeat_grasp(scene, hand: Gripper, profile: GripperProfile, grasp: WorldGrasp,
                 before: int, repeats: int, jitter: RepeatJitter,
                 rng: np.random.Generator) -> int:
    """Execute ``grasp`` ``repeats`` times, jittered, each from the saved physics state
    ``before``; returns how many lifted an object. The world is put back as it was at the call
    (the attempt's own outcome; close, not bit for bit: module docstring) and
    ``hand.last_outcome`` is kept."""
    outcome = hand.last_outcome
    after = pybullet.saveState(physicsClientId=scene.client)
    held = 0
    try:
        for _ in range(repeats):
            pybullet.restoreState(before, physicsClientId=scene.client)
            held += hand.execute(jitter.apply(grasp, rng), profile.trial,
                                 table_z_m=scene.table_z_m) is not None
    finally:
        pybullet.restoreState(after, physicsClientId=scene.client)
        pybullet.removeState(after, physicsClientId=scene.client)
        hand.last_outcome = outcome
    return held


class TrialOracle:
    """Not a detector: a reference for how far the labels' own grasps get.

    In every view it grades the objects in the tray with the labelling trials
    (:func:`sim.trials.grade_objects`: centres in the middle of each visible object, several
    closing directions, perturbed re-trials, the physics restored before each) and executes
    the most robust candidate, with the opening the labels give it (the object's extent plus
    the profile's clearance), as a detector publishing that label would. It sees the scene's
    true geometry and tries grasps before choosing, but only the labels' candidates (two
    centres per object, a few directions): a detector can beat it elsewhere. ``run_sim_eval``
    grades in a :class:`TwinScene` and executes the grasp in the scene itself.
    """

    name = "oracle"

    def __init__(self, grade: GradeConfig = GradeConfig()) -> None:
        self.grade = grade

    def choose(self, scene, hand: Gripper, profile, rng: np.random.Generator):
        """(world grasp, robustness, thumbnail) of the best candidate in ``scene``."""
        perfect, seg = scene.render()
        graded = [g for g in grade_objects(scene, hand, profile, perfect, seg, rng,
                                           self.grade) if g.trials]
        if not graded:
            raise NoGraspFound("no candidate in view could be tried")
        best = max(graded, key=lambda g: (g.robustness, g.world.surface_z_m))
        r = best.rectangle
        half = 150  # a detector's 300-px crop around the grasp, kept inside the image
        top = int(np.clip(round(r.row) - half, 0, max(perfect.shape[0] - 2 * half, 0)))
        left = int(np.clip(round(r.col) - half, 0, max(perfect.shape[1] - 2 * half, 0)))
        crop = np.nan_to_num(perfect[top:top + 2 * half, left:left + 2 * half], nan=0.0)
        grasp = Grasp2D(int(round(r.row)) - top, int(round(r.col)) - left, r.angle_rad,
                        r.opening_px, best.robustness)
        return best.world, best.robustness, draw_grasps(crop, [grasp], upscale=1)


class GraspSearch:
    """Not a detector: an estimate of how many attempts some top-down grasp could win.

    In every view it tries, for each object on the table (highest first), grasps on a grid
    around the object's centre of mass (``offsets_m`` along x and y) in ``directions``
    closing directions, opened to the stroke, the grasped surface found by a ray cast down
    through the grasp's centre. The physics is restored before each try. It chooses the
    first grasp that held in two tries in a row (a grasp that holds once can be one on the
    edge, which the attempt itself then loses), or the last one tried when none did.
    ``run_sim_eval`` runs the tries in a :class:`TwinScene` and executes the grasp chosen in
    the scene itself, as a detector's: its share of lifts is about a ceiling for every
    detector on the same seeds (a finer grid might lift a little more), the trial's own noise
    included. It sees the true objects and tries before choosing: it is no baseline and no
    model.
    """

    name = "search"

    def __init__(self, offsets_m: tuple[float, ...] = (0.0, -0.01, 0.01),
                 directions: int = 12) -> None:
        self.offsets_m = offsets_m
        self.directions = directions

    def candidates(self, scene, width_m: float) -> list[tuple[int, WorldGrasp]]:
        """(body, grasp) in the order they are tried."""
        objects = {o.body_id: pybullet.getAABB(o.body_id, physicsClientId=scene.client)[1][2]
                   for o in scene.objects_on_table()}
        out = []
        for body in sorted(objects, key=lambda b: -objects[b]):
            com = pybullet.getBasePositionAndOrientation(body, physicsClientId=scene.client)[0]
            for dx in self.offsets_m:
                for dy in self.offsets_m:
                    x, y = com[0] + dx, com[1] + dy
                    hit = pybullet.rayTest([x, y, objects[body] + 0.05],
                                           [x, y, scene.table_z_m - 0.01],
                                           physicsClientId=scene.client)[0]
                    surface = hit[3][2] if hit[0] >= 0 else scene.table_z_m
                    out.extend((body, WorldGrasp(x, y, surface,
                                                 -np.pi / 2 + k * np.pi / self.directions,
                                                 width_m))
                               for k in range(self.directions))
        return out

    def choose(self, scene, hand: Gripper, profile, rng: np.random.Generator):
        """(world grasp, 1.0 when one held twice else 0.0, thumbnail) of the grasp to
        execute."""
        tries = self.candidates(scene, profile.stroke_m)
        if not tries:
            raise NoGraspFound("no object on the table")
        state = pybullet.saveState(physicsClientId=scene.client)

        def holds(body: int, g: WorldGrasp) -> bool:
            pybullet.restoreState(state, physicsClientId=scene.client)
            return hand.execute(g, profile.trial, table_z_m=scene.table_z_m) == body

        chosen, found = tries[-1][1], False
        try:
            for body, g in tries:
                if holds(body, g) and holds(body, g):
                    chosen, found = g, True
                    break
        finally:
            pybullet.restoreState(state, physicsClientId=scene.client)
            pybullet.removeState(state, physicsClientId=scene.client)
        depth, _ = scene.render()
        r = world_to_rectangle(chosen, scene.camera, hand.config.jaw_m)
        grasp = Grasp2D(int(round(r.row)), int(round(r.col)), r.angle_rad, r.opening_px, 1.0)
        thumb = draw_grasps(np.nan_to_num(depth, nan=0.0), [grasp], upscale=1)
        return chosen, float(found), thumb


class TwinScene:
    """A second PyBullet world holding what ``scene`` holds, where a reference that tries
    grasps before choosing (TrialOracle, GraspSearch) runs its tries; the grasp it chooses is
    then executed in the scene itself, as a detector's grasp is.

    PyBullet's restored state is not the one it was saved from (the solver's warm start is
    left out), and near the edge of a grasp that decides the trial: the search's grasps, each
    tried twice and executed in the very state restored for its tries, lifted 100 of 100
    isolated objects, and 89 of 100 in the scene as built, where a detector's attempt runs.
    Tried in the twin, which copies the scene's objects (their poses and velocities) before
    each choice, the scene is never restored and the attempt meets the trial's own noise.
    """

    def __init__(self, seed: int, camera: CameraConfig, config: SceneConfig,
                 gripper: GripperConfig) -> None:
        # the same seed and order of creation as the scene's: the same bodies and ids
        self.scene = make_scene(seed, camera=camera, config=config)
        self.hand = Gripper(self.scene.client, gripper)

    def mirror(self, scene: Scene) -> None:
        """Give the twin's objects those of ``scene`` now (the ones it removed too); ``scene``
        is only read. The gripper needs no copy: a trial places it first."""
        kept = {o.body_id for o in scene.objects}
        for o in list(self.scene.objects):
            if o.body_id not in kept:
                self.scene.remove(o.body_id)
        source, twin = scene.client, self.scene.client
        for o in scene.objects:
            body = o.body_id
            pos, orn = pybullet.getBasePositionAndOrientation(body, physicsClientId=source)
            linear, angular = pybullet.getBaseVelocity(body, physicsClientId=source)
            pybullet.resetBasePositionAndOrientation(body, pos, orn, physicsClientId=twin)
            pybullet.resetBaseVelocity(body, linear, angular, physicsClientId=twin)
            for j in range(pybullet.getNumJoints(body, physicsClientId=source)):  # a folder's
                q, dq = pybullet.getJointState(body, j, physicsClientId=source)[:2]
                pybullet.resetJointState(body, j, q, dq, physicsClientId=twin)

    def close(self) -> None:
        self.scene.close()

    def __enter__(self) -> "TwinScene":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def gripper_config(config, profile: GripperProfile, clearance_m: float | None = None):
    """A DetectorConfig whose published openings suit ``profile``: capped at its stroke,
    ``clearance_m`` (default: the profile's) added to a measured extent, measured in a strip
    as wide as its pads."""
    return replace(config, opening=replace(
        config.opening, max_opening_m=profile.stroke_m,
        clearance_m=profile.clearance_m if clearance_m is None else clearance_m,
        pad_width_m=profile.gripper.jaw_m))


def profile_clearance(gripper: str, reach_m: float = 0.01) -> Clearance:
    """The node's finger clearance test sized to a gripper profile's fingers."""
    config = gripper_profile(gripper).gripper
    return Clearance(finger_thickness_m=2 * config.finger_half_m[0],
                     finger_width_m=config.jaw_m, reach_m=reach_m)


def workspace_selection(camera: CameraConfig, half_m: float) -> dict:
    """GraspSelection's workspace arguments for a box ``half_m`` either side of the scene's
    centre along x and y (any height), in the world frame, as a user sets the node's
    workspace_min_m / workspace_max_m with the table as the target frame."""
    if not half_m > 0.0:
        raise ValueError(f"a workspace half-width must be > 0 m, got {half_m}")
    x0, y0 = camera.target_xy_m
    return {"workspace": WorkspaceBox((x0 - half_m, y0 - half_m, -1.0),
                                      (x0 + half_m, y0 + half_m, 1.0)),
            "to_frame": RigidTransform(camera.rotation, camera.eye_m)}


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a success rate."""
    if n == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def run_sim_eval(predictor, *, split: str = "test", scenario: str = "isolated",
                 trials: int = 50, seed: int = EVAL_SEED_OFFSET,
                 sources: tuple[str, ...] = ("random_urdfs",), object_dir: Path | None = None,
                 camera: CameraConfig | str = "top", noise: DepthNoise | None = None,
                 gripper: str = DEFAULT_GRIPPER, selection: GraspSelection | None = None,
                 repeats: int = 0, jitter: RepeatJitter = RepeatJitter(),
                 opening_clearance_m: float | None = None,
                 progress: bool = True) -> list[Attempt]:
    """Run ``trials`` attempts; ``predictor`` has GraspDetector's detect (or is a
    TrialOracle or a GraspSearch).

    ``camera``: a name of EVAL_CAMERAS or a CameraConfig; ``noise`` defaults to the camera
    kind's model; ``gripper``: a name of sim.gripper.GRIPPERS; ``selection``: passed to the
    detector as the node passes its workspace, mask and clearance parameters
    (:func:`profile_clearance` gives the clearance test of a gripper profile);
    ``repeats``: re-execute each attempt's grasp that many times, jittered by ``jitter``
    (:func:`repeat_grasp`; module docstring); ``opening_clearance_m``: the clearance a
    detector adds to a measured extent (the node's opening_clearance_m; default: the
    profile's, :func:`gripper_config`).
    """
    if repeats < 0:
        raise ValueError(f"repeats must be >= 0, got {repeats}")
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got '{scenario}'")
    if isinstance(camera, str):
        if camera not in EVAL_CAMERAS:
            raise ValueError(f"unknown camera '{camera}'; known: {sorted(EVAL_CAMERAS)}")
        camera = EVAL_CAMERAS[camera]
    noise = noise if noise is not None else CAMERA_NOISE.get(camera.name, DepthNoise())
    profile = gripper_profile(gripper)
    # a detector is set up for the gripper as a user sets the node's max_opening_m,
    # opening_clearance_m and finger_width_m
    det_config = (gripper_config(predictor.config, profile, opening_clearance_m)
                  if hasattr(predictor, "check_config") else None)
    clutter = scenario == "clutter"
    config = SceneConfig(num_objects=(5, 8) if clutter else (1, 1), sources=sources,
                         split=split, object_dir=object_dir, tray=clutter,
                         area_half_m=0.09 if clutter else 0.06)
    attempts: list[Attempt] = []
    bar = tqdm(total=trials, desc=f"sim-eval {scenario} {gripper}", disable=not progress)
    scene_seed = seed
    reference = isinstance(predictor, (TrialOracle, GraspSearch))
    while len(attempts) < trials:
        # a reference tries its grasps in a twin of the scene (TwinScene)
        with make_scene(scene_seed, camera=camera, config=config) as scene, \
                (TwinScene(scene_seed, camera, config, profile.gripper) if reference
                 else nullcontext()) as twin:
            hand = Gripper(scene.client, profile.gripper)
            rng = np.random.default_rng([scene_seed, 4])
            budget = int(np.ceil(1.5 * len(scene.objects))) if clutter else 1
            for k in range(budget):
                remaining = scene.objects_on_table()
                if not remaining or len(attempts) >= trials:
                    break
                depth_m, _ = scene.render(noise, rng)
                labels = ",".join(o.label for o in remaining)
                try:
                    if twin is not None:
                        twin.mirror(scene)
                        world, quality, thumb = predictor.choose(twin.scene, twin.hand,
                                                                 profile, rng)
                    else:
                        extra = {k: v for k, v in (("config", det_config),
                                                   ("selection", selection)) if v is not None}
                        det = predictor.detect(depth_m, camera.intrinsics(), **extra)
                        best = det.best
                        world, quality = pose_to_world_grasp(best, camera), best.quality
                        thumb = draw_grasps(det.preprocessed.depth_m, [best.grasp_2d],
                                            upscale=1)
                except (NoGraspFound, GraspSegError) as exc:
                    attempts.append(Attempt(scene_seed, k, labels, False, f"no grasp: {exc}"))
                    bar.update()
                    continue
                before = pybullet.saveState(physicsClientId=scene.client) if repeats else None
                held = hand.execute(world, profile.trial, table_z_m=scene.table_z_m)
                lifted = next((o.label for o in remaining if o.body_id == held), None)
                attempts.append(Attempt(
                    scene_seed, k, lifted or labels, held is not None,
                    "lifted" if held is not None else f"missed: {hand.last_outcome}",
                    {"x_m": world.x_m, "y_m": world.y_m, "z_m": world.surface_z_m,
                     "yaw_rad": world.yaw_rad, "width_m": world.width_m,
                     "quality": quality}, thumb))
                if repeats:
                    jitter_rng = np.random.default_rng([scene_seed, 5, k])
                    try:
                        attempts[-1].repeats_held = repeat_grasp(
                            scene, hand, profile, world, before, repeats, jitter, jitter_rng)
                        attempts[-1].repeats = repeats
                    finally:
                        pybullet.removeState(before, physicsClientId=scene.client)
                if clutter and held is not None:  # picked: out of the tray
                    scene.remove(held)
                if clutter:  # what a failed lift raised falls back before the next view
                    scene.settle()
                bar.update()
        scene_seed += 1
    bar.close()
    return attempts


def summarise_attempts(attempts: list[Attempt]) -> dict:
    n = len(attempts)
    k = sum(a.success for a in attempts)
    low, high = wilson_interval(k, n)
    per_object: dict[str, list[int]] = {}
    for a in attempts:
        if "," not in a.target:  # attributable to one object
            per_object.setdefault(a.target, []).append(int(a.success))
    summary = {"attempts": n, "successes": k, "success_rate": k / n if n else float("nan"),
               "ci95_wilson": [low, high],
               "no_grasp": sum(a.reason.startswith("no grasp") for a in attempts),
               "per_object": {o: f"{sum(v)}/{len(v)}" for o, v in sorted(per_object.items())}}
    repeated = [a for a in attempts if a.repeats]
    if repeated:
        # an attempt without a grasp counts as a grasp that never holds
        share = np.array([a.repeats_held / a.repeats for a in repeated]
                         + [0.0] * sum(a.reason.startswith("no grasp") for a in attempts))
        held = [a for a in repeated if a.success]
        missed = [a for a in repeated if not a.success]
        summary["repeats"] = {
            "per_attempt": repeated[0].repeats,
            # the expected success rate of the chosen grasps under the jitter
            "hold_rate": float(share.mean()),
            "attempts_holding_every_repeat": int(np.sum(share == 1.0)),
            "lucky": sum(a.repeats_held <= a.repeats / 2 for a in held),
            "unlucky": sum(a.repeats_held > a.repeats / 2 for a in missed),
        }
    return summary


def write_outputs(attempts: list[Attempt], summary: dict, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scene_seed", "attempt", "target", "success", "reason", "x_m", "y_m",
                    "z_m", "yaw_rad", "width_m", "quality", "repeats_held"])
        for a in attempts:
            g = a.grasp
            w.writerow([a.scene_seed, a.attempt, a.target, int(a.success), a.reason,
                        *(f"{g[k]:.4f}" if k in g else "" for k in
                          ("x_m", "y_m", "z_m", "yaw_rad", "width_m", "quality")),
                        f"{a.repeats_held}/{a.repeats}" if a.repeats else ""])
    (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2))
    contact_sheet(attempts, out_dir / f"{name}_contact_sheet.png")


def contact_sheet(attempts: list[Attempt], path: Path, *, columns: int = 8,
                  size_px: int = 150, max_tiles: int = 48) -> None:
    """Depth crops with the executed grasp; green border = lifted, red = not."""
    tiles = []
    for a in attempts[:max_tiles]:
        if a.thumbnail is None:
            tile = np.zeros((size_px, size_px, 3), np.uint8)
            cv2.putText(tile, "no grasp", (10, size_px // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 1, cv2.LINE_AA)
        else:
            tile = cv2.resize(a.thumbnail, (size_px, size_px), interpolation=cv2.INTER_AREA)
        colour = (0, 200, 0) if a.success else (0, 0, 230)
        tile = cv2.copyMakeBorder(tile, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=colour)
        tiles.append(tile)
    if not tiles:
        return
    blank = np.zeros_like(tiles[0])
    rows = [np.hstack(tiles[i:i + columns] + [blank] * (columns - len(tiles[i:i + columns])))
            for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(path), np.vstack(rows))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg sim-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="a model name or .safetensors path, 'baseline' or "
                        "'baseline_heightmap' (no network: on the depth crop or on the "
                        "height map), 'oracle' (the labelling trials choose: the labels' "
                        "own grasps) or 'search' (grasps on a grid around each object "
                        "tried until one holds: a ceiling, GraspSearch)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--scenario", default="isolated", choices=SCENARIOS)
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=EVAL_SEED_OFFSET)
    p.add_argument("--sources", nargs="+", default=["random_urdfs"],
                   choices=("primitives", "random_urdfs", "folder"))
    p.add_argument("--object-dir", type=Path)
    p.add_argument("--gripper", default=DEFAULT_GRIPPER, choices=sorted(GRIPPERS))
    p.add_argument("--camera", default="top", choices=sorted(EVAL_CAMERAS))
    p.add_argument("--clearance", action="store_true",
                   help="the node's finger clearance test (clearance_check), sized to the "
                        "gripper profile's fingers")
    p.add_argument("--finger-reach", type=float, default=0.01,
                   help="with --clearance: how far below the grasp point the finger tips "
                        "must get (the node's finger_reach_m)")
    p.add_argument("--augment", default="none", choices=tuple(AUGMENTS),
                   help="test-time augmentation of the network (the node's augment)")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the network's runtime (the node's backend)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="the network's arithmetic on the CPU (the node's precision)")
    p.add_argument("--quality-threshold", type=float, default=None,
                   help="the node's quality_threshold (default: the node's default): a frame "
                        "whose best grasp is rated lower gets no grasp, and the attempt counts "
                        "as 'no grasp'")
    p.add_argument("--fallback-spots", type=int, default=None, metavar="N",
                   help="the node's fallback_spots (default: the node's default): spots tried "
                        "when no peak's grasp fits the stroke; 0 = only the peaks")
    p.add_argument("--workspace-half", type=float, default=None, metavar="M",
                   help="the node's workspace box: M metres either side of the scene's centre "
                        "along x and y, in the world frame (the tray reaches 15 cm, its walls' "
                        "tops 13 cm)")
    p.add_argument("--opening-clearance", type=float, default=None,
                   help="the node's opening_clearance_m: added to a measured extent "
                        "(default: the gripper profile's clearance)")
    p.add_argument("--repeats", type=int, default=0,
                   help="re-execute each attempt's grasp this many times, jittered (+-2 mm, "
                        "+-5 deg), from the same moment: how reliable the chosen grasps are")
    default_jitter = RepeatJitter()
    p.add_argument("--repeat-shift", type=float, default=default_jitter.shift_m,
                   help="a repeat moves the grasp by up to this much along x and y, in metres "
                        f"(default {default_jitter.shift_m}; 0 with --repeat-turn 0: the very "
                        "grasp again, the trial's own noise)")
    p.add_argument("--repeat-turn", type=float, default=default_jitter.turn_deg,
                   help=f"a repeat turns the grasp by up to this many degrees (default "
                        f"{default_jitter.turn_deg:g})")
    p.add_argument("--out", type=Path, default=Path("sim_eval_output"))
    args = p.parse_args(argv)
    if args.repeats < 0:
        p.error(f"--repeats must be >= 0, got {args.repeats}")
    try:
        jitter = RepeatJitter(args.repeat_shift, args.repeat_turn)
    except ValueError as exc:
        p.error(f"--repeat-shift/--repeat-turn: {exc}")
    if args.workspace_half is not None and not args.workspace_half > 0.0:
        p.error(f"--workspace-half must be > 0 m, got {args.workspace_half}")
    if args.opening_clearance is not None and not 0.0 <= args.opening_clearance < 0.2:
        p.error(f"--opening-clearance must be in [0, 0.2) m (the node's range), got "
                f"{args.opening_clearance}")
    if args.quality_threshold is not None and not 0.0 <= args.quality_threshold <= 1.0:
        p.error(f"--quality-threshold must be in [0, 1] (the node's range), got "
                f"{args.quality_threshold}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from grasp_seg_ros.sim.probe import backend_name, make_predictor
    try:
        predictor, name = make_predictor(args.model, args.augment, args.quality_threshold,
                                         args.fallback_spots, args.backend,
                                         args.precision)
    except ValueError as exc:
        p.error(str(exc))
    selection = None
    if args.clearance or args.workspace_half is not None:
        selection = GraspSelection(
            clearance=(profile_clearance(args.gripper, args.finger_reach)
                       if args.clearance else None),
            **(workspace_selection(EVAL_CAMERAS[args.camera], args.workspace_half)
               if args.workspace_half is not None else {}))
    attempts = run_sim_eval(predictor, split=args.split, scenario=args.scenario,
                            trials=args.trials, seed=args.seed, sources=tuple(args.sources),
                            object_dir=args.object_dir, camera=args.camera,
                            gripper=args.gripper, selection=selection, repeats=args.repeats,
                            jitter=jitter, opening_clearance_m=args.opening_clearance)
    summary = summarise_attempts(attempts)
    summary.update({"model": name, "split": args.split, "scenario": args.scenario,
                    "sources": args.sources, "gripper": args.gripper, "camera": args.camera,
                    "seed": args.seed, "clearance": args.clearance,
                    "backend": backend_name(predictor),
                    "precision": args.precision,
                    "quality_threshold": args.quality_threshold,
                    "fallback_spots": args.fallback_spots,
                    "opening_clearance_m": args.opening_clearance,
                    "workspace_half_m": args.workspace_half,
                    "repeat_jitter": asdict(jitter) if args.repeats else None,
                    "finger_reach_m": args.finger_reach if args.clearance else None})
    tag = (f"{name}_{args.scenario}_{args.split}_{args.gripper}_{args.camera}"
           + ("_clearance" if args.clearance else "")
           + (f"_workspace{args.workspace_half:g}" if args.workspace_half is not None else "")
           + (f"_repeats{args.repeats}" if args.repeats else "")
           + ("" if not args.repeats or jitter == default_jitter
              else f"_jitter{1e3 * jitter.shift_m:g}mm{jitter.turn_deg:g}deg"))
    write_outputs(attempts, summary, args.out, tag)
    lo, hi = summary["ci95_wilson"]
    LOG.info("%s %s on %s, %s, %s camera: %d/%d lifted = %.1f%% (95%% CI %.1f-%.1f%%); "
             "outputs in %s/%s.*", name, args.scenario, args.split, args.gripper, args.camera,
             summary["successes"], summary["attempts"], 100 * summary["success_rate"],
             100 * lo, 100 * hi, args.out, tag)
    if "repeats" in summary:
        r = summary["repeats"]
        LOG.info("repeats (%d per attempt, +-%g mm, +-%g deg): %.1f%% of them held; %d of "
                 "%d attempts' grasps held in every repeat; %d successes lucky (held in half "
                 "the repeats or fewer), %d misses unlucky (held in more than half)",
                 r["per_attempt"], 1e3 * jitter.shift_m, jitter.turn_deg,
                 100 * r["hold_rate"], r["attempts_holding_every_repeat"],
                 summary["attempts"], r["lucky"], r["unlucky"])


if __name__ == "__main__":
    main()
