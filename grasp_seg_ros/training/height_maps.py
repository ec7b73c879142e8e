"""Height-map training samples from the synthetic generator's graded labels.

A sample is a scene's depth image, its camera (``*_camera.json``) and every graded candidate
(``*_grasps_graded.csv``: good and bad, core.jacquard). :class:`HeightMapDataset` renders the
depth as the node does (core.heightmap: fitted plane, metric grid) and maps each candidate
into the grid through 3-D: its centre deprojected at the scene's exact depth, its closing
direction cast onto the plane through that centre, its opening in metres. Augmentation moves
the grid (turn about the plane's normal, mirror, shift) and renders again: nothing is warped.

Targets, with ``angle_bins`` B > 0 (2B + 2 channels): B quality targets (a candidate's
robustness in the two bins nearest its direction, weighted linearly), their B weights (in
(0, 1] where a candidate says something; -``background_weight`` away from every candidate,
whose bins are all 0: nothing to grasp there; 0 for the other bins under a candidate: not
tried is not bad), the width of good candidates and its weight. The loss averages the
candidates' cells and the background separately (training.losses.binned_map_losses): a
scene is ~98% background, which would otherwise teach "nothing anywhere".
With B = 0: GG-CNN's four maps from the good candidates (core.rectangles), so both heads
train on the same data.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.grasp import OutputScaling, angle_to_bins
from grasp_seg_ros.core.heightmap import HeightMap, HeightMapGrid, HeightMapSpec, make_height_map
from grasp_seg_ros.core.jacquard import (GradedRectangle, find_samples, read_depth,
                                         read_graded, read_mask)
from grasp_seg_ros.core.preprocess import InputNormalisation
from grasp_seg_ros.core.rectangles import GraspRectangle, draw_training_maps
from grasp_seg_ros.training.augmentation import GridAugmentation, grid_move
from grasp_seg_ros.training.datasets import DepthSample

LOG = logging.getLogger(__name__)

#: background higher than this above the plane is "raised" (HeightMapConfig)
RAISED_M = 0.01


@dataclass(frozen=True)
class GradedFrame:
    depth_m: np.ndarray          #: the depth the network sees (stereo or perfect)
    exact_m: np.ndarray          #: the scene's exact depth (places the labels)
    intrinsics: CameraIntrinsics
    graded: list[GradedRectangle]
    objects: np.ndarray | None = None   #: (H, W) bool: the objects' pixels (not tray, table)


def _load_graded(depth_path: Path, perfect_path: Path, graded_path: Path,
                 camera_path: Path, mask_path: Path | None = None) -> GradedFrame:
    cam = json.loads(camera_path.read_text())
    intrinsics = CameraIntrinsics.from_k(cam["k"], width=int(cam["width"]),
                                         height=int(cam["height"]))
    objects = read_mask(mask_path) if mask_path is not None else None
    return GradedFrame(read_depth(depth_path), read_depth(perfect_path), intrinsics,
                       read_graded(graded_path), objects)


def graded_samples(root: Path, *, depth: str = "stereo") -> list[DepthSample]:
    """Scenes of the synthetic generator that carry graded labels and a camera file."""
    if depth not in ("perfect", "stereo"):
        raise ValueError(f"depth must be 'perfect' or 'stereo', got {depth!r}")
    out = []
    for s in find_samples(Path(root)):
        if not (s.path("graded").is_file() and s.path("camera").is_file()):
            continue
        mask = s.path("mask")
        load = partial(_load_graded, s.path(depth), s.path("perfect"), s.path("graded"),
                       s.path("camera"), mask if mask.is_file() else None)
        out.append(DepthSample(key=str(s.prefix.relative_to(root)),
                               group=str(s.prefix.parent.relative_to(root)), load=load))
    if not out:
        raise FileNotFoundError(f"no sample with *_grasps_graded.csv and *_camera.json under "
                                f"{root} (make them with grasp-seg dataset generate)")
    return out


@dataclass(frozen=True)
class GridLabel:
    rectangle: GraspRectangle    #: in grid cells; opening = the candidate's opening
    robustness: float


def labels_in_grid(frame: GradedFrame, grid: HeightMapGrid) -> list[GridLabel]:
    """Each graded candidate of the frame, mapped into the grid (module docstring)."""
    intr = frame.intrinsics
    out = []
    h, w = frame.exact_m.shape
    for g in frame.graded:
        r = g.rectangle
        ri, ci = int(round(r.row)), int(round(r.col))
        if not (0 <= ri < h and 0 <= ci < w):
            continue
        z = float(frame.exact_m[ri, ci])
        if not np.isfinite(z) or z <= 0:
            continue
        centre = intr.pixel_to_point(r.row, r.col, z)
        half = 0.5 * r.opening_px
        d = np.array([-np.sin(r.angle_rad), np.cos(r.angle_rad)]) * half
        tips_px = np.array([[r.row, r.col]]) + np.array([-d, d])
        rays = intr.pixel_to_point(tips_px[:, 0], tips_px[:, 1], 1.0)
        # the plane parallel to the support plane through the candidate's centre
        offset = -float(centre @ grid.normal)
        denom = rays @ grid.normal
        if (np.abs(denom) < 1e-9).any():
            continue
        tips = rays * (-offset / denom)[:, None]
        direction = tips[1] - tips[0]
        length_m = float(np.linalg.norm(direction))
        if not np.isfinite(length_m) or length_m <= 0:
            continue
        row, col, _ = grid.to_cells(centre)
        opening_m = g.width_m if np.isfinite(g.width_m) and g.width_m > 0 else length_m
        jaw_m = r.jaw_px * length_m / max(r.opening_px, 1e-9)
        out.append(GridLabel(GraspRectangle(float(row), float(col), grid.angle_of(direction),
                                            opening_m / grid.resolution_m,
                                            jaw_m / grid.resolution_m), g.robustness))
    return out


def draw_bin_targets(labels: Sequence[GridLabel], size: int, bins: int,
                     scaling: OutputScaling, *, good: float = 0.5,
                     centre_fraction: float = 1.0 / 3.0,
                     background_weight: float = 1.0,
                     unknown: np.ndarray | None = None,
                     raised: np.ndarray | None = None,
                     raised_weight: float = 1.0) -> np.ndarray:
    """(2B + 2, S, S) float32 targets and weights (module docstring); ``unknown`` ((S, S)
    bool) marks cells left out where no candidate covers them (objects not tried there);
    background cells in ``raised`` (things standing up that are not objects: a tray's wall)
    weigh ``raised_weight`` times as much as the rest of the background."""
    target = np.zeros((2 * bins + 2, size, size), np.float32)
    q, wq = target[:bins], target[bins:2 * bins]
    width, ww = target[2 * bins], target[2 * bins + 1]
    covered = np.zeros((size, size), bool)
    # bad first, good last: where candidates overlap in a bin, the better one is drawn last
    for lab in sorted(labels, key=lambda x: x.robustness):
        mask = np.zeros((size, size), np.uint8)
        pts = lab.rectangle.corners(opening_fraction=centre_fraction)[:, ::-1]
        cv2.fillPoly(mask, [np.rint(pts).astype(np.int32)], 1)
        sel = mask.astype(bool)
        if not sel.any():
            continue
        covered |= sel
        for k, wk in angle_to_bins(lab.rectangle.angle_rad, bins):
            if wk <= 0:
                continue
            q[k][sel] = lab.robustness
            wq[k][sel] = np.maximum(wq[k][sel], wk)
        if lab.robustness >= good:
            width[sel] = scaling.encode_width(np.float32(lab.rectangle.opening_px))
            ww[sel] = 1.0
    wq[:, ~covered] = -background_weight
    if raised is not None:
        wq[:, raised & ~covered] = -background_weight * raised_weight
    if unknown is not None:
        wq[:, unknown & ~covered] = 0.0
    return target


@dataclass(frozen=True)
class HeightMapConfig:
    spec: HeightMapSpec = HeightMapSpec()
    angle_bins: int = 12
    scaling: OutputScaling = field(default_factory=lambda: OutputScaling(50.0, 12))
    #: heights in decimetres: a 5 cm object is 0.5, not 0.05 (metres trained nothing in two
    #: epochs: the activations of the first layers stayed near zero)
    normalisation: InputNormalisation = InputNormalisation("height", 0.3, 10.0)
    good_robustness: float = 0.5
    background_weight: float = 1.0
    #: cells on an object that no candidate covers: 'bad' (background) or 'unknown' (left
    #: out; needs the scenes' object masks): only the table, the tray and what else is not an
    #: object then teaches "nothing to grasp"
    unlabelled_objects: str = "bad"
    #: background standing more than 1 cm above the plane that is not an object (a tray's
    #: walls, the ridges a network most easily takes for a bar) weighs this many times as
    #: much as the rest of the background (needs the object masks when != 1)
    raised_background_weight: float = 1.0


def object_cells(hm: HeightMap, frame: GradedFrame) -> np.ndarray:
    """(S, S) bool: cells whose surface point is seen on an object's pixel."""
    if frame.objects is None:
        raise FileNotFoundError("unlabelled_objects 'unknown' and raised_background_weight "
                                "need the scenes' object masks (*_mask.png), which this "
                                "scene lacks")
    px = np.rint(hm.cell_pixels(frame.intrinsics)).astype(np.int64)
    rows, cols = px[..., 0], px[..., 1]
    h, w = frame.objects.shape
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    out = np.zeros(rows.shape, bool)
    out[inside] = frame.objects[rows[inside], cols[inside]]
    return out


class HeightMapDataset:
    """Indexable (input (1, S, S), target, index) float32 arrays; torch-compatible."""

    def __init__(self, samples: Sequence[DepthSample], config: HeightMapConfig = HeightMapConfig(),
                 augmentation: GridAugmentation | None = None, seed: int = 0) -> None:
        if config.unlabelled_objects not in ("bad", "unknown"):
            raise ValueError(f"unlabelled_objects must be 'bad' or 'unknown', got "
                             f"{config.unlabelled_objects!r}")
        if config.scaling.angle_bins != config.angle_bins:
            raise ValueError(f"scaling.angle_bins {config.scaling.angle_bins} != angle_bins "
                             f"{config.angle_bins}")
        self.samples = list(samples)
        self.config = config
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def example(self, index: int) -> tuple[np.ndarray, np.ndarray, list[GraspRectangle]]:
        """(input, target, good candidates in grid cells) of sample ``index``."""
        cfg = self.config
        frame: GradedFrame = self.samples[index].load()
        hm = make_height_map(frame.depth_m, frame.intrinsics, cfg.spec, min_valid_fraction=0.0)
        aug = self.augmentation
        if aug is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            grid = hm.grid.moved(**grid_move(aug, rng))
            hm = make_height_map(frame.depth_m, frame.intrinsics, cfg.spec, plane=hm.plane,
                                 grid=grid, min_valid_fraction=0.0)
        labels = labels_in_grid(frame, hm.grid)
        size = cfg.spec.size_px
        good = [lab.rectangle for lab in labels if lab.robustness >= cfg.good_robustness]
        if cfg.angle_bins:
            unknown, raised = None, None
            if cfg.unlabelled_objects == "unknown" or cfg.raised_background_weight != 1.0:
                objects = object_cells(hm, frame)
                unknown = objects if cfg.unlabelled_objects == "unknown" else None
                raised = (hm.height_m > RAISED_M) & ~objects
            target = draw_bin_targets(labels, size, cfg.angle_bins, cfg.scaling,
                                      good=cfg.good_robustness,
                                      background_weight=cfg.background_weight,
                                      unknown=unknown, raised=raised,
                                      raised_weight=cfg.raised_background_weight)
        else:
            target = draw_training_maps(good, (size, size), cfg.scaling)
        x = cfg.normalisation.apply(hm.height_m)[None].astype(np.float32)
        return x, target, good

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        x, y, _ = self.example(index)
        return x, y, index
