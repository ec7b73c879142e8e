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
from grasp_seg_ros.core.opening import OpeningParams, fits, jaw_centres, measure_openings
from grasp_seg_ros.core.pose import GraspPose, grasp_to_pose
from grasp_seg_ros.core.preprocess import Preprocessed

#: with a per-grasp test (clearance), this many times top_k candidates are decoded and
#: tested, best first, until top_k pass
CANDIDATE_FACTOR = 4
#: DecodeParams.fallback_spots are at least this many map cells apart (8 mm at 2 mm cells)
FALLBACK_SPACING_PX = 4
#: fallback spots are measured this many at a time (all their rated directions in one pass)
FALLBACK_BATCH = 8


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

        def ways_at(g: Grasp2D) -> list[Grasp2D]:
            """The spot's directions rated above the threshold, best first (the first is
            ``g``'s own)."""
            return [replace(g, angle_rad=angle, quality=quality) for angle, quality
                    in maps.directions_at(g.row, g.col, params.quality_threshold)]

        def measured(grasps: list[Grasp2D]) -> list[Grasp2D | None]:
            return measure_openings(pre.height_m, grasps, res, opening, pre.hole_mask)

        def fitting(ways: list[Grasp2D], openings: list[Grasp2D | None],
                    on_object: bool = False) -> Grasp2D | None:
            """The best of a spot's directions (``ways``, measured: ``openings``) whose
            grasp fits (not yet centred along the jaws), or None; with ``on_object`` only a
            grasp on something standing above the plane (a peak on nothing keeps the
            network's width)."""
            nonlocal left_region
            # an object wider than the stroke across the closing direction cannot be grasped
            # so; a binned head may rate another direction at the same spot (a box too long
            # one way is grasped across): its best one that fits stands for the spot
            for d, m in zip(ways, openings):
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
                return m
            return None

        chosen: list[Grasp2D] = []
        # every peak's best direction measured in one pass; a spot's other directions only
        # where that one does not fit (together, in one pass)
        for g, first in zip(grasps_2d, measured(grasps_2d)):
            m = fitting([g], [first])
            if m is None:
                others = ways_at(g)[1:]
                m = fitting(others, measured(others))
            if m is not None:
                chosen.append(m)
                if len(chosen) >= wanted:
                    break
        spots = np.empty((0, 2), np.int64)
        if not chosen and params.fallback_spots > 0:
            # every peak's object is too wide (objects pressed together, one in a tray's
            # corner whose extent runs up the walls): the next spots the model rates, on the
            # peaks' flanks too, may hold an object that fits (spots on the bare plane
            # beside an object, on the flank of its rating, are passed over)
            spots = spread_cells(maps.quality, threshold=params.quality_threshold,
                                 spacing_px=FALLBACK_SPACING_PX,
                                 max_cells=params.fallback_spots,
                                 taken=[(g.row, g.col) for g in grasps_2d])
            for at in range(0, len(spots), FALLBACK_BATCH):   # best first, a few at a time
                ways = [ways_at(Grasp2D(int(r), int(c), maps.angle_at(r, c),
                                        float(maps.width_px[r, c]),
                                        float(maps.quality[r, c])))
                        for r, c in spots[at:at + FALLBACK_BATCH]]
                openings = measured([w for spot in ways for w in spot])
                ends = np.cumsum([len(spot) for spot in ways])
                for spot, end in zip(ways, ends):
                    m = fitting(spot, openings[end - len(spot):end], on_object=True)
                    if m is not None:
                        chosen.append(m)
                        if len(chosen) >= wanted:
                            break
                if len(chosen) >= wanted:
                    break
        if chosen and opening.centre_along_jaws:
            chosen = _centred_along_jaws(chosen, maps, pre, opening, allowed)
        if not chosen:
            raise NoGraspFound(f"all {len(grasps_2d)} candidate grasps"
                               + (f" and {len(spots)} more spots" if len(spots) else "")
                               + f" need a wider opening than max_opening_m "
                               f"({opening.max_opening_m} m) in every direction rated at "
                               f"least quality_threshold ({params.quality_threshold:g})"
                               + (" or, centred on their object, leave the allowed region"
                                  if left_region else ""))
        grasps_2d = chosen
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


def _centred_along_jaws(grasps: list[Grasp2D], maps: GraspMaps, pre: HeightMap,
                        opening: OpeningParams, allowed: np.ndarray | None = None
                        ) -> list[Grasp2D]:
    """Measured grasps, each moved to the middle of its object's extent along the jaws
    (core.opening.jaw_centres), re-measured there; a grasp stays where it is where the model
    rates its direction there below JAW_CENTRING_QUALITY of the spot's quality, the opening
    there does not fit or the moved grasp is outside ``allowed``. The map is read for all
    of them at once."""
    res = pre.grid.resolution_m
    cells = jaw_centres(pre.height_m, grasps, res, opening, pre.hole_mask)
    to_move = [i for i, (g, cell) in enumerate(zip(grasps, cells))
               if cell is not None and cell != (g.row, g.col)
               and _rated(maps, cell[0], cell[1], g.angle_rad) >= JAW_CENTRING_QUALITY * g.quality]
    out = list(grasps)
    moved = measure_openings(pre.height_m,
                             [replace(grasps[i], row=cells[i][0], col=cells[i][1])
                              for i in to_move], res, opening, pre.hole_mask)
    for i, m in zip(to_move, moved):
        if m is not None and fits(m, res, opening) and _inside(m, allowed):
            out[i] = m
    return out
