"""The angle probe: objects of known pose, many orientations and cameras, no physics.

    grasp-seg probe --model ggcnn2 [--objects primitives|shapes] [--gripper robotiq_2f85]
        [--out probe_output]
    grasp-seg probe --model baseline

Each probe object (boxes, bars 6-25 cm, a lying cylinder, a plate) lies on the table at the
camera's target, turned through ``yaws`` orientations, and is seen by every probe camera
(heights, tilts; D435/D405/L515 intrinsics taking turns over the orientations, each with its
noise model). The predictor's best grasp is mapped to the world as the simulated gripper
would execute it, and compared with the object's known geometry:

- closing-axis error: the angle between the closing direction on the table and the object's
  short horizontal axis, in [0, 90] deg (no grasp counts as 90);
- on object: the grasp centre lies on the object's footprint (2 mm margin);
- width error: the predicted opening minus (the object's extent across the closing direction +
  the gripper profile's clearance); over stroke: wider than the gripper can open.

A predictor that ignores orientation scores a median near 45 deg; one that closes along the
long axis near 90. Writes probe.csv (one line per view), probe.json (summaries by object,
camera and overall), probe.png (the summaries drawn) and probe_views.png (one view per object
and orientation, the camera taking turns: the predictor's input with its grasp).

On those primitives the short axis of the footprint is the answer, so a rule that closes
across the principal axis of the highest region scores as well as any network. ``--objects
shapes`` runs L-, T- and V-shaped objects instead (bars 2.5 cm wide, joined), where it is not:
their centroid lies off the object or on a joint, and their principal axis crosses no arm. For
them the right closing direction depends on where the grasp is. A line through the grasp
centre cuts a piece out of the object (the stretch between the fingers' contacts); the right
directions are those whose piece is narrowest (local minima over the half turn, within 5 mm
of the narrowest: across an arm away from the joints, diagonal in an L's corner), and the
error is the angle to the nearest of them. A centre off the object counts as 90 deg (no
direction is right there), and the opening is judged against the piece the closing line cuts.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pybullet
from tqdm import tqdm

from grasp_seg_ros.core.draw import draw_grasps
from grasp_seg_ros.core.errors import GraspSegError, NoGraspFound
from grasp_seg_ros.core.grasp import angle_difference
from grasp_seg_ros.core.resources import DEFAULT_MODEL
from grasp_seg_ros.inference.augment import AUGMENTS
from grasp_seg_ros.inference.backends import BACKENDS, PRECISIONS
from grasp_seg_ros.sim.camera import CAMERA_NOISE, CameraConfig, camera_model, render
from grasp_seg_ros.sim.gripper import DEFAULT_GRIPPER, GRIPPERS, gripper_profile
from grasp_seg_ros.sim.trials import pose_to_world_grasp

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeObject:
    """An object of known geometry: a primitive (its long horizontal axis is its local x) or
    boxes joined into one shape ('parts')."""

    name: str
    kind: str                          #: 'box', 'cylinder' (lying, axis along x) or 'parts'
    size_m: tuple[float, float, float]  #: full extents (x, y, z); cylinder: (length, d, d)
    #: kind 'parts': boxes of height size_m[2] as (x, y, yaw_deg, length, width) in the
    #: object's frame, length along the part's own x
    parts: tuple[tuple[float, float, float, float, float], ...] = ()

    @property
    def short_m(self) -> float:
        """Extent across the long axis: the width a grasp across should open to."""
        return float(self.size_m[1])

    def footprint(self, yaw_rad: float, xy: tuple[float, float]) -> np.ndarray:
        """(K, 5) rectangles on the table: centre x, y, yaw (rad), length, width."""
        parts = self.parts or ((0.0, 0.0, 0.0, self.size_m[0], self.size_m[1]),)
        c, s = np.cos(yaw_rad), np.sin(yaw_rad)
        return np.array([(xy[0] + c * px - s * py, xy[1] + s * px + c * py,
                          yaw_rad + np.radians(pyaw), length, width)
                         for px, py, pyaw, length, width in parts], np.float64)


PROBE_OBJECTS: tuple[ProbeObject, ...] = (
    ProbeObject("box_10x3x4", "box", (0.10, 0.03, 0.04)),
    ProbeObject("bar_6", "box", (0.06, 0.025, 0.025)),
    ProbeObject("bar_12", "box", (0.12, 0.025, 0.025)),
    ProbeObject("bar_18", "box", (0.18, 0.025, 0.025)),
    ProbeObject("bar_25", "box", (0.25, 0.02, 0.02)),
    ProbeObject("cylinder_lying", "cylinder", (0.14, 0.04, 0.04)),
    ProbeObject("plate_12x6", "box", (0.12, 0.06, 0.015)),
)

#: bars 2.5 cm wide and 3 cm high, joined, each centred on its bounding box: an L (arms of 12
#: and 10 cm), a T (a 14 cm bar on a 7.5 cm stem) and a V (two 11 cm arms 60 deg apart)
SHAPE_OBJECTS: tuple[ProbeObject, ...] = (
    ProbeObject("L_12x10", "parts", (0.12, 0.10, 0.03),
                ((0.0, -0.0375, 0.0, 0.12, 0.025), (-0.0475, 0.0, 90.0, 0.10, 0.025))),
    ProbeObject("T_14x10", "parts", (0.14, 0.10, 0.03),
                ((0.0, 0.0375, 0.0, 0.14, 0.025), (0.0, -0.0125, 90.0, 0.075, 0.025))),
    ProbeObject("V_11_60", "parts", (0.10, 0.12, 0.03),
                ((0.0, 0.0275, 30.0, 0.11, 0.025),
                 (0.0, -0.0275, -30.0, 0.11, 0.025))),
)
OBJECT_SETS = {"primitives": PROBE_OBJECTS, "shapes": SHAPE_OBJECTS}


@dataclass(frozen=True)
class ProbeCamera:
    height_m: float
    tilt_deg: float

    @property
    def label(self) -> str:
        return f"h{self.height_m:.2f}_t{self.tilt_deg:.0f}"


DEFAULT_CAMERAS: tuple[ProbeCamera, ...] = tuple(
    ProbeCamera(h, t) for h in (0.35, 0.6, 0.9) for t in (0.0, 15.0, 30.0))
CAMERA_KINDS = ("d435", "d405", "l515")
THUMBNAIL_PX = 120


@dataclass
class ProbeView:
    obj: str
    camera: str
    camera_kind: str
    yaw_deg: float
    found: bool
    error_deg: float
    on_object: bool
    width_m: float = float("nan")
    width_error_m: float = float("nan")
    over_stroke: bool = False
    reason: str = ""
    extra: dict = field(default_factory=dict)
    #: the predictor's input with its grasp drawn (kept for the views the sheet shows)
    thumbnail: np.ndarray | None = field(default=None, repr=False)


def _create(client: int, obj: ProbeObject, yaw_rad: float, xy: tuple[float, float]
            ) -> list[int]:
    """The object's bodies (one per part; static, rendered only)."""
    sx, sy, sz = obj.size_m
    if obj.kind == "parts":
        bodies = []
        for x, y, yaw, length, width in obj.footprint(yaw_rad, xy):
            shape = pybullet.createCollisionShape(
                pybullet.GEOM_BOX, halfExtents=[length / 2, width / 2, sz / 2],
                physicsClientId=client)
            bodies.append(pybullet.createMultiBody(
                0.0, shape, basePosition=[x, y, sz / 2],
                baseOrientation=pybullet.getQuaternionFromEuler([0.0, 0.0, yaw]),
                physicsClientId=client))
        return bodies
    if obj.kind == "box":
        shape = pybullet.createCollisionShape(pybullet.GEOM_BOX,
                                              halfExtents=[sx / 2, sy / 2, sz / 2],
                                              physicsClientId=client)
        orn = pybullet.getQuaternionFromEuler([0.0, 0.0, yaw_rad])
    elif obj.kind == "cylinder":  # PyBullet's cylinder axis is z: lay it along x
        shape = pybullet.createCollisionShape(pybullet.GEOM_CYLINDER, radius=sy / 2,
                                              height=sx, physicsClientId=client)
        orn = pybullet.getQuaternionFromEuler([0.0, np.pi / 2, yaw_rad])
    else:
        raise ValueError(f"unknown probe object kind '{obj.kind}'")
    return [pybullet.createMultiBody(0.0, shape, basePosition=[xy[0], xy[1], sz / 2],
                                     baseOrientation=orn, physicsClientId=client)]


def _inside(rects: np.ndarray, points_xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
    """(...,) whether each (..., 2) point lies on any of the (K, 5) footprint rectangles."""
    d = points_xy[..., None, :] - rects[:, :2]                        # (..., K, 2)
    c, s = np.cos(rects[:, 2]), np.sin(rects[:, 2])
    along = d[..., 0] * c + d[..., 1] * s
    across = -d[..., 0] * s + d[..., 1] * c
    return ((np.abs(along) <= rects[:, 3] / 2 + margin_m)
            & (np.abs(across) <= rects[:, 4] / 2 + margin_m)).any(axis=-1)


def extent_along(rects: np.ndarray, centre_xy: np.ndarray, yaw_rad) -> np.ndarray:
    """The length of the footprint's piece that a line through ``centre_xy`` at each
    ``yaw_rad`` cuts at the centre (or the piece nearest to it): what the fingers of a parallel
    gripper closing there clamp, and so the least they must open to; 0 where a line misses the
    footprint. Exact: each rectangle cuts a line in one interval (slab intersection), and
    overlapping intervals are one piece."""
    yaw = np.atleast_1d(np.asarray(yaw_rad, np.float64))[:, None]          # (A, 1)
    rel = np.asarray(centre_xy, np.float64) - rects[:, :2]                  # (K, 2)
    c, s = np.cos(rects[:, 2]), np.sin(rects[:, 2])
    lo, hi = np.full((len(yaw), len(rects)), -np.inf), np.full((len(yaw), len(rects)), np.inf)
    for origin, direction, half in (
            (rel[:, 0] * c + rel[:, 1] * s, np.cos(yaw - rects[:, 2]), rects[:, 3] / 2),
            (-rel[:, 0] * s + rel[:, 1] * c, np.sin(yaw - rects[:, 2]), rects[:, 4] / 2)):
        with np.errstate(divide="ignore", invalid="ignore"):
            t0, t1 = (-half - origin) / direction, (half - origin) / direction
        parallel = np.abs(direction) < 1e-12
        inside = np.abs(origin) <= half
        # a line parallel to a side cuts the slab everywhere or nowhere
        near = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t0, t1))
        far = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t0, t1))
        lo, hi = np.maximum(lo, near), np.minimum(hi, far)
    hit = lo <= hi
    lo, hi = np.where(hit, lo, np.inf), np.where(hit, hi, -np.inf)
    # start from the interval nearest the centre (0 when it holds it), then take in every
    # interval that touches the piece so far: as many rounds as rectangles join it up
    gap = np.where(hit, np.maximum(lo, -hi).clip(min=0.0), np.inf)
    k = np.argmin(gap, axis=1)[:, None]
    first = np.take_along_axis(lo, k, 1)[:, 0]
    last = np.take_along_axis(hi, k, 1)[:, 0]
    for _ in range(rects.shape[0]):
        touch = hit & (lo <= last[:, None] + 1e-4) & (hi >= first[:, None] - 1e-4)
        first = np.minimum(first, np.where(touch, lo, np.inf).min(axis=1))
        last = np.maximum(last, np.where(touch, hi, -np.inf).max(axis=1))
    return np.where(hit.any(axis=1), last - first, 0.0)


def narrowest_error_deg(rects: np.ndarray, centre_xy: np.ndarray, yaw_rad: float, *,
                        tolerance_m: float = 0.005) -> float:
    """Angle from a closing direction to the nearest direction along which the footprint is
    narrowest through ``centre_xy``, in [0, 90]: the directions of the extent's local minima
    (over the half turn) within ``tolerance_m`` of the narrowest, so that two equally narrow
    cuts (an L's corner) are both right while a bar has one, across it."""
    candidates = np.radians(np.arange(0.0, 180.0, 1.0))
    extents = extent_along(rects, centre_xy, candidates)
    extents = np.where(extents > 0, extents, np.inf)
    local_min = (extents <= np.roll(extents, 1)) & (extents <= np.roll(extents, -1))
    good = candidates[local_min & (extents <= extents.min() + tolerance_m)]
    return float(np.degrees(angle_difference(yaw_rad, good).min()))


def _on_footprint(obj: ProbeObject, yaw_rad: float, xy: tuple[float, float],
                  point_xy: np.ndarray, margin_m: float = 0.002) -> bool:
    return bool(_inside(obj.footprint(yaw_rad, xy), np.asarray(point_xy, np.float64),
                        margin_m))


def run_probe(predictor, *, objects: tuple[ProbeObject, ...] = PROBE_OBJECTS,
              cameras: tuple[ProbeCamera, ...] = DEFAULT_CAMERAS, yaws: int = 12,
              gripper: str = DEFAULT_GRIPPER, seed: int = 0, progress: bool = True
              ) -> list[ProbeView]:
    """Every object x camera x orientation once; ``predictor`` has GraspDetector's detect."""
    profile = gripper_profile(gripper)
    rng = np.random.default_rng(seed)
    views: list[ProbeView] = []
    client = pybullet.connect(pybullet.DIRECT)
    total = len(objects) * len(cameras) * yaws
    bar = tqdm(total=total, desc="angle probe", disable=not progress)
    try:
        table = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[2.0, 2.0, 0.01],
                                              physicsClientId=client)
        pybullet.createMultiBody(0.0, table, basePosition=[0, 0, -0.01],
                                 physicsClientId=client)
        for obj in objects:
            for k in range(yaws):
                yaw_deg = 180.0 * k / yaws + 7.0  # off the image axes
                yaw = np.radians(yaw_deg)
                # the object off the image centre by a little, different per orientation
                xy = tuple(rng.uniform(-0.02, 0.02, 2))
                bodies = _create(client, obj, yaw, xy)
                kind = CAMERA_KINDS[k % len(CAMERA_KINDS)]
                for c, cam_spec in enumerate(cameras):
                    camera = camera_model(kind, height_m=cam_spec.height_m,
                                          tilt_deg=cam_spec.tilt_deg,
                                          azimuth_deg=float(rng.uniform(0.0, 360.0)))
                    # one view per object and orientation is drawn, the camera taking turns
                    views.append(_view(predictor, client, camera, cam_spec, obj, yaw, xy,
                                       profile, rng, thumbnail=c == k % len(cameras)))
                    bar.update()
                for body in bodies:
                    pybullet.removeBody(body, physicsClientId=client)
    finally:
        bar.close()
        pybullet.disconnect(client)
    return views


def _view(predictor, client: int, camera: CameraConfig, cam_spec: ProbeCamera,
          obj: ProbeObject, yaw: float, xy: tuple[float, float], profile,
          rng: np.random.Generator, *, thumbnail: bool = False) -> ProbeView:
    depth_m, _ = render(camera, client)
    depth_m = CAMERA_NOISE[camera.name].apply(depth_m, rng)
    base = dict(obj=obj.name, camera=cam_spec.label, camera_kind=camera.name,
                yaw_deg=float(np.degrees(yaw)))
    try:
        det = predictor.detect(depth_m, camera.intrinsics())
    except (NoGraspFound, GraspSegError) as exc:
        return ProbeView(**base, found=False, error_deg=90.0, on_object=False,
                         reason=f"no grasp: {exc}")
    best = det.best
    if thumbnail:
        base["thumbnail"] = cv2.resize(
            draw_grasps(det.preprocessed.depth_m, [best.grasp_2d], upscale=1),
            (THUMBNAIL_PX, THUMBNAIL_PX), interpolation=cv2.INTER_AREA)
    world = pose_to_world_grasp(best, camera)
    centre = np.array([world.x_m, world.y_m])
    on_object = _on_footprint(obj, yaw, xy, centre)
    if obj.kind == "parts":
        rects = obj.footprint(yaw, xy)
        error = narrowest_error_deg(rects, centre, world.yaw_rad) if on_object else 90.0
        extent = float(extent_along(rects, centre, world.yaw_rad)[0])
        expected = extent + profile.clearance_m if extent > 0 else float("nan")
        return ProbeView(**base, found=True, error_deg=error, on_object=on_object,
                         width_m=float(best.width_m), width_error_m=float(best.width_m - expected),
                         over_stroke=bool(best.width_m > profile.stroke_m))
    short_axis = yaw + np.pi / 2
    error = float(np.degrees(angle_difference(world.yaw_rad, short_axis)))
    # extent across the closing direction, for a box footprint
    rel = world.yaw_rad - yaw
    sx, sy = obj.size_m[0], obj.size_m[1]
    across = min(sx / max(abs(np.cos(rel)), 1e-6), sy / max(abs(np.sin(rel)), 1e-6))
    expected = across + profile.clearance_m
    return ProbeView(**base, found=True, error_deg=error, on_object=on_object,
                     width_m=float(best.width_m), width_error_m=float(best.width_m - expected),
                     over_stroke=bool(best.width_m > profile.stroke_m))


def _summary(views: list[ProbeView]) -> dict:
    err = np.array([v.error_deg for v in views])
    werr = np.array([v.width_error_m for v in views
                     if v.found and np.isfinite(v.width_error_m)])
    return {"views": len(views),
            "median_error_deg": float(np.median(err)) if len(err) else float("nan"),
            "within_20deg": float(np.mean(err <= 20.0)) if len(err) else float("nan"),
            "on_object": float(np.mean([v.on_object for v in views])) if views else float("nan"),
            "no_grasp": int(sum(not v.found for v in views)),
            "median_abs_width_error_m": float(np.median(np.abs(werr))) if len(werr)
            else float("nan"),
            "width_within_1p5cm": float(np.mean(np.abs(werr) <= 0.015)) if len(werr)
            else float("nan"),
            "over_stroke": float(np.mean([v.over_stroke for v in views if v.found]))
            if len(werr) else float("nan")}


def summarise_probe(views: list[ProbeView]) -> dict:
    """Overall, by object, by camera (height and tilt), by tilt and by camera kind."""
    def group(key) -> dict:
        out: dict[str, list[ProbeView]] = {}
        for v in views:
            out.setdefault(key(v), []).append(v)
        return {k: _summary(vs) for k, vs in sorted(out.items())}
    return {"overall": _summary(views),
            "by_object": group(lambda v: v.obj),
            "by_camera": group(lambda v: v.camera),
            "by_tilt": group(lambda v: v.camera.split("_t")[1] + " deg"),
            "by_camera_kind": group(lambda v: v.camera_kind)}


def write_probe(views: list[ProbeView], summary: dict, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["object", "camera", "camera_kind", "yaw_deg", "found", "error_deg",
                    "on_object", "width_m", "width_error_m", "over_stroke", "reason"])
        for v in views:
            w.writerow([v.obj, v.camera, v.camera_kind, f"{v.yaw_deg:.1f}", int(v.found),
                        f"{v.error_deg:.1f}", int(v.on_object), f"{v.width_m:.4f}",
                        f"{v.width_error_m:.4f}", int(v.over_stroke), v.reason])
    (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2))
    plot_probe(summary, out_dir / f"{name}.png", name)
    views_sheet(views, out_dir / f"{name}_views.png")


def views_sheet(views: list[ProbeView], path: Path, *, columns: int = 12,
                max_tiles: int = 96) -> None:
    """The drawn views (one per object and orientation), a row per object: the predictor's
    input with its best grasp in red; green border = within 20 deg and on the object."""
    drawn = [v for v in views if v.thumbnail is not None][:max_tiles]
    if not drawn:
        return
    tiles = []
    for v in drawn:
        good = v.found and v.on_object and v.error_deg <= 20.0
        tile = cv2.copyMakeBorder(v.thumbnail, 3, 3, 3, 3, cv2.BORDER_CONSTANT,
                                  value=(0, 200, 0) if good else (0, 0, 230))
        cv2.putText(tile, f"{v.error_deg:.0f}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    blank = np.zeros_like(tiles[0])
    rows = [np.hstack(tiles[i:i + columns] + [blank] * (columns - len(tiles[i:i + columns])))
            for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(path), np.vstack(rows))


def plot_probe(summary: dict, path: Path, title: str) -> None:
    """Median closing-axis error and share within 20 deg, by object and by camera."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in zip(axes, ("by_object", "by_camera")):
        names = list(summary[key])
        med = [summary[key][n]["median_error_deg"] for n in names]
        within = [100 * summary[key][n]["within_20deg"] for n in names]
        x = np.arange(len(names))
        ax.bar(x - 0.2, med, 0.4, label="median error (deg)")
        ax.bar(x + 0.2, within, 0.4, label="within 20 deg (%)")
        ax.axhline(45.0, color="grey", lw=0.8, ls="--")
        ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_title(key.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    o = summary["overall"]
    fig.suptitle(f"{title}: closing-axis error {o['median_error_deg']:.1f} deg median, "
                 f"{100 * o['within_20deg']:.0f}% within 20 deg, "
                 f"{100 * o['on_object']:.0f}% on the object")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: the no-network predictors by name: on the depth crop (nearest to the camera) or on the
#: height map (highest above the table), and each one's known-bad control (closes along the
#: long axis)
BASELINES = ("baseline", "baseline_along", "baseline_heightmap", "baseline_heightmap_along")
#: sim-eval's references that try grasps in the scene before choosing (no probe)
SCENE_REFERENCES = ("oracle", "search")


def backend_name(predictor) -> str | None:
    """The runtime a predictor's network ran on (None: no network)."""
    backend = getattr(predictor, "backend", None)
    return getattr(backend, "name", None)


def make_predictor(model: str, augment: str = "none", quality_threshold: float | None = None,
                   fallback_spots: int | None = None, backend: str = "auto",
                   precision: str = "fp32"):
    """A GraspDetector on the CPU (with test-time ``augment``, inference.augment, and the
    node's ``quality_threshold`` and ``fallback_spots`` when given, else the node's
    defaults; run by ``backend``, the node's default 'auto' unless given, in ``precision``),
    or a
    no-network baseline of BASELINES ('baseline': inference.baseline.HighestObjectBaseline on
    the depth crop; 'baseline_heightmap': HeightMapBaseline; '..._along': the known-bad
    control that closes along the long axis), or sim-eval's references, which try grasps
    in the scene itself and so run in sim-eval only ('oracle': the labels' own grasps,
    sim.evaluation.TrialOracle; 'search': a grid of grasps around each object,
    sim.evaluation.GraspSearch)."""
    if augment != "none" and model in (*SCENE_REFERENCES, *BASELINES):
        raise ValueError(f"'{model}' runs no network: test-time augmentation does not apply")
    if quality_threshold is not None and model in (*SCENE_REFERENCES, *BASELINES):
        raise ValueError(f"'{model}' runs no network: a quality threshold does not apply")
    if fallback_spots is not None and model in (*SCENE_REFERENCES, *BASELINES):
        raise ValueError(f"'{model}' runs no network: fallback spots do not apply")
    if precision != "fp32" and model in (*SCENE_REFERENCES, *BASELINES):
        raise ValueError(f"'{model}' runs no network: a precision does not apply")
    if fallback_spots is not None and not 0 <= fallback_spots <= 10000:
        raise ValueError(f"fallback spots must be in [0, 10000] (the node's range), got "
                         f"{fallback_spots}")
    if model == "oracle":
        from grasp_seg_ros.sim.evaluation import TrialOracle
        return TrialOracle(), model
    if model == "search":
        from grasp_seg_ros.sim.evaluation import GraspSearch
        return GraspSearch(), model
    if model in BASELINES:
        from grasp_seg_ros.inference.baseline import HeightMapBaseline, HighestObjectBaseline
        closing = "major" if model.endswith("_along") else "minor"
        kind = HeightMapBaseline if "heightmap" in model else HighestObjectBaseline
        return kind(closing=closing), model
    from dataclasses import replace

    from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
    config = DetectorConfig(augment=augment)
    if quality_threshold is not None:
        config = replace(config, decode=replace(config.decode,
                                                quality_threshold=float(quality_threshold)))
    if fallback_spots is not None:
        config = replace(config, decode=replace(config.decode,
                                                fallback_spots=int(fallback_spots)))
    detector = GraspDetector(model, device="cpu", config=config, backend=backend,
                             precision=precision)
    name = detector.model_path.stem + ("" if augment == "none" else f"_{augment}")
    if precision != "fp32":
        name += f"_{precision}"
    if quality_threshold is not None:
        name += f"_q{quality_threshold:g}"
    return detector, name if fallback_spots is None else f"{name}_fb{fallback_spots}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="a model name or .safetensors path, 'baseline' or "
                        "'baseline_heightmap' (no network) or 'baseline_along' (a known-bad "
                        "control)")
    p.add_argument("--gripper", default=DEFAULT_GRIPPER, choices=sorted(GRIPPERS),
                   help="whose clearance and stroke the width is judged against")
    p.add_argument("--augment", default="none", choices=tuple(AUGMENTS),
                   help="test-time augmentation of the network (the node's augment)")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the network's runtime (the node's backend)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="the network's arithmetic on the CPU (the node's precision)")
    p.add_argument("--objects", default="primitives", choices=tuple(OBJECT_SETS),
                   help="the seven primitives, or L-, T- and V-shapes where the principal "
                        "axis is not the answer")
    p.add_argument("--yaws", type=int, default=12, help="orientations over 180 deg")
    p.add_argument("--heights", type=float, nargs="+", default=[0.35, 0.6, 0.9])
    p.add_argument("--tilts", type=float, nargs="+", default=[0.0, 15.0, 30.0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("probe_output"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        predictor, name = make_predictor(args.model, args.augment, backend=args.backend,
                                         precision=args.precision)
    except ValueError as exc:
        p.error(str(exc))
    cameras = tuple(ProbeCamera(h, t) for h in args.heights for t in args.tilts)
    views = run_probe(predictor, objects=OBJECT_SETS[args.objects], cameras=cameras,
                      yaws=args.yaws, gripper=args.gripper, seed=args.seed)
    summary = summarise_probe(views)
    summary.update({"model": name, "objects": args.objects, "gripper": args.gripper,
                    "yaws": args.yaws, "backend": backend_name(predictor),
                    "precision": args.precision,
                    "heights_m": args.heights, "tilts_deg": args.tilts,
                    "camera_kinds": list(CAMERA_KINDS)})
    stem = f"probe_{name}" if args.objects == "primitives" else f"probe_{args.objects}_{name}"
    write_probe(views, summary, args.out, stem)
    o = summary["overall"]
    LOG.info("%s: closing-axis error %.1f deg median, %.0f%% within 20 deg, %.0f%% on the "
             "object, width within 1.5 cm %.0f%%, over stroke %.0f%% (%d views); outputs in "
             "%s/%s.*", name, o["median_error_deg"], 100 * o["within_20deg"],
             100 * o["on_object"], 100 * o["width_within_1p5cm"], 100 * o["over_stroke"],
             o["views"], args.out, stem)


if __name__ == "__main__":
    main()
