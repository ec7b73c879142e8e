"""Raw network maps -> filtered maps and grasp poses, for either input kind (depth crop or
height map), with an optional allowed region and per-grasp test (inference.detector's
selection)."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import (DecodeParams, Grasp2D, GraspMaps, OutputScaling,
                                      angle_to_bins, detect_grasps, maps_from_raw,
                                      spread_cells)
from grasp_seg_ros.core.heightmap import HeightMap
from grasp_seg_ros.core.opening import (OpeningParams, fits, jaw_centre, measure_opening,
                                        measure_openings)
from grasp_seg_ros.core.pose import GraspPose, grasp_to_pose
from grasp_seg_ros.core.preprocess import Preprocessed

#: with a per-grasp test (clearance), this many times top_k candidates are decoded and
#: tested, best first, until top_k pass
CANDIDATE_FACTOR = 4
#: DecodeParams.fallback_spots are at least this many map cells apart (8 mm at 2 mm cells)
FALLBACK_SPACING_PX = 4


def decode(raw: np.ndarray, pre: Preprocessed | HeightMap, intrinsics: CameraIntrinsics,
           scaling: OutputScaling, params: DecodeParams,
           previous_px: tuple[float, float] | None = None, *,
           allowed: np.ndarray | None = None,
           accept: Callable[[GraspPose], bool] | None = None,
           opening: OpeningParams | None = None,
           ) -> tuple[GraspMaps, list[GraspPose]]:
    """Raw network maps (either head kind) -> filtered maps and grasp poses, best first.

    ``allowed`` ((S, S) bool) zeroes the quality outside it before peaks are picked (the
    published quality map shows it); ``accept`` drops single grasps, tested best first until
    ``params.top_k`` pass. Poses with any non-finite value are dropped (a corrupt model
    answering NaN must never reach /grasp_pose); raises NoGraspFound when nothing is left.
    ``opening``: height-map grasps get the opening measured in the map (mode auto or
    measured, core.opening; where a grasp would need more than the stroke, a binned head's
    next-best direction at that spot is tried (GraspMaps.directions_at) and the spot dropped
    when none fits; so is a direction whose grasp, centred on its object, leaves
    ``allowed``; spots are tested best first like ``accept``, and when no peak's grasp is
    left, up to ``params.fallback_spots`` more spots (core.grasp.spread_cells); with
    ``opening.centre_along_jaws`` a measured grasp is moved to the middle of its object along
    the jaws where the model still rates it, :func:`_centred_along_jaws`); every opening is
    capped at its maximum.
    """
    maps = maps_from_raw(raw, scaling, params)
    if allowed is not None:
        maps = replace(maps, quality=np.where(allowed, maps.quality, np.float32(0.0)))
    measuring = isinstance(pre, HeightMap) and opening is not None and opening.mode != "model"
    pool = params if accept is None and not measuring else \
        replace(params, top_k=params.top_k * CANDIDATE_FACTOR)
    grasps_2d = [g for g in detect_grasps(maps, pool, previous_px)
                 if np.isfinite([g.angle_rad, g.width_px, g.quality]).all()]
    if measuring:
        res = pre.grid.resolution_m
        wanted = params.top_k if accept is None else len(grasps_2d)
        left_region = False   # a measured grasp re-centred outside ``allowed``

        def fitting_at(g: Grasp2D, on_object: bool = False) -> Grasp2D | None:
            """The spot's best rated direction whose measured grasp fits, or None; with
            ``on_object`` only a grasp on something standing above the plane (a peak on
            nothing keeps the network's width)."""
            nonlocal left_region
            # an object wider than the stroke across the closing direction cannot be grasped
            # so; a binned head may rate another direction at the same spot (a box too long
            # one way is grasped across): its best one that fits stands for the spot
            ways = [replace(g, angle_rad=angle, quality=quality) for angle, quality
                    in maps.directions_at(g.row, g.col, params.quality_threshold)]
            # a fallback spot's directions mostly all fail: measured at once, in one pass
            measured = (measure_openings(pre.height_m, ways, res, opening, pre.hole_mask)
                        if on_object else None)
            for i, d in enumerate(ways):
                m = (measured[i] if measured is not None
                     else measure_opening(pre.height_m, d, res, opening, pre.hole_mask))
                if m is None and on_object:
                    return None   # no direction finds an object at this spot
                m = m or d
                if not fits(m, res, opening):
                    continue
                # centred on its object, a grasp may leave the region the peaks were picked
                # in (the workspace box, the mask): it must stay inside, as the peaks do
                if not _inside(m, allowed):
                    left_region = True
                    continue
                if opening.centre_along_jaws:
                    m = _centred_along_jaws(m, maps, pre, opening, allowed)
                return m
            return None

        fitting = []
        for g in grasps_2d:   # best first, until enough fit
            m = fitting_at(g)
            if m is not None:
                fitting.append(m)
                if len(fitting) >= wanted:
                    break
        spots = np.empty((0, 2), np.int64)
        if not fitting and params.fallback_spots > 0:
            # every peak's object is too wide (objects pressed together, one in a tray's
            # corner whose extent runs up the walls): the next spots the model rates, on the
            # peaks' flanks too, may hold an object that fits (spots on the bare plane
            # beside an object, on the flank of its rating, are passed over)
            spots = spread_cells(maps.quality, threshold=params.quality_threshold,
                                 spacing_px=FALLBACK_SPACING_PX,
                                 max_cells=params.fallback_spots,
                                 taken=[(g.row, g.col) for g in grasps_2d])
            for r, c in spots:
                m = fitting_at(Grasp2D(int(r), int(c), maps.angle_at(r, c),
                                       float(maps.width_px[r, c]), float(maps.quality[r, c])),
                               on_object=True)
                if m is not None:
                    fitting.append(m)
                    if len(fitting) >= wanted:
                        break
        if not fitting:
            raise NoGraspFound(f"all {len(grasps_2d)} candidate grasps"
                               + (f" and {len(spots)} more spots" if len(spots) else "")
                               + f" need a wider opening than max_opening_m "
                               f"({opening.max_opening_m} m) in every direction rated at "
                               f"least quality_threshold ({params.quality_threshold:g})"
                               + (" or, centred on their object, leave the allowed region"
                                  if left_region else ""))
        grasps_2d = fitting
    if isinstance(pre, HeightMap):
        poses = pre.grid.grasp_poses(grasps_2d, pre.height_m, intrinsics)
    else:
        poses = [grasp_to_pose(g, pre.depth_m, pre.crop, intrinsics) for g in grasps_2d]
    poses = [p for p in poses if p.is_finite()]
    if opening is not None:
        poses = [p if p.width_m <= opening.max_opening_m
                 else replace(p, width_m=opening.max_opening_m) for p in poses]
    if not poses:
        raise NoGraspFound("every candidate grasp had non-finite values")
    if accept is not None:
        passed = []
        for pose in poses:
            if accept(pose):
                passed.append(pose)
                if len(passed) >= params.top_k:
                    break
        if not passed:
            raise NoGraspFound(f"all {len(poses)} candidate grasps failed the clearance test")
        poses = passed
    return maps, poses[:params.top_k]


#: a grasp moved along the jaws keeps at least this share of its spot's quality there
JAW_CENTRING_QUALITY = 0.5


def _rated(maps: GraspMaps, row: int, col: int, angle_rad: float) -> float:
    """The model's quality of one closing direction at a cell (binned heads: the two nearest
    bins' filtered qualities, weighted as angle_to_bins shares a direction between them)."""
    if maps.bins is None:
        return float(maps.quality[row, col])
    return float(sum(w * maps.bins[k, row, col]
                     for k, w in angle_to_bins(angle_rad, maps.bins.shape[0])))


def _inside(g: Grasp2D, allowed: np.ndarray | None) -> bool:
    return allowed is None or bool(allowed[g.row, g.col])


def _centred_along_jaws(g: Grasp2D, maps: GraspMaps, pre: HeightMap,
                        opening: OpeningParams, allowed: np.ndarray | None = None) -> Grasp2D:
    """``g`` (a measured grasp) moved to the middle of its object's extent along the jaws
    (core.opening.jaw_centre), re-measured there; ``g`` itself where the model rates the
    direction there below JAW_CENTRING_QUALITY of the spot's quality, the opening there
    does not fit or the moved grasp is outside ``allowed``."""
    res = pre.grid.resolution_m
    cell = jaw_centre(pre.height_m, g, res, opening, pre.hole_mask)
    if cell is None or cell == (g.row, g.col):
        return g
    if _rated(maps, cell[0], cell[1], g.angle_rad) < JAW_CENTRING_QUALITY * g.quality:
        return g
    moved = measure_opening(pre.height_m, replace(g, row=cell[0], col=cell[1]), res, opening,
                            pre.hole_mask)
    if moved is None or not fits(moved, res, opening) or not _inside(moved, allowed):
        return g
    return moved
