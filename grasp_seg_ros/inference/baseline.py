"""A grasp predictor without a network: across the principal axis of the highest object.

Takes the top ``top_band_m`` of the surface nearest the camera, keeps the connected region
around its nearest point, and grasps its centroid across its principal (long) axis, opened
to the region's extent plus a margin. Regions wider than ``max_width_px`` across (a tray's
rim, a box wall) or longer than ``max_length_px`` (a straight piece of that rim) are
skipped for the next highest. Same preprocessing and pose geometry as
the detector.

``closing='major'`` closes along the long axis instead: a known-bad control that every
orientation measure must fail (it finds the same objects, only the angle is wrong).

``HeightMapBaseline`` applies the same rule to the plane-aligned height map the default model
sees (highest above the fitted table rather than nearest to the camera; sizes in metres): a
tilted or distant camera does not move it, so it is the fair no-network reference wherever the
camera is not straight above the scene at the crop's scale.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import Grasp2D, GraspMaps
from grasp_seg_ros.core.heightmap import HeightMapSpec, make_height_map
from grasp_seg_ros.core.pose import grasp_to_pose
from grasp_seg_ros.core.preprocess import InputNormalisation, preprocess
from grasp_seg_ros.inference.detector import Detection, DetectorConfig


class HighestObjectBaseline:
    """Same interface as GraspDetector.detect; one grasp per frame."""

    name = "baseline_highest_object"

    def __init__(self, config: DetectorConfig | None = None, *, top_band_m: float = 0.01,
                 margin_px: float = 6.0, min_region_px: int = 20,
                 max_width_px: float = 120.0, max_length_px: float = 180.0,
                 max_regions: int = 200, closing: str = "minor", sliver_px: int = 0) -> None:
        if closing not in ("minor", "major"):
            raise ValueError(f"closing must be 'minor' or 'major', got '{closing}'")
        self.config = config or DetectorConfig()
        self.closing = closing
        self.top_band_m = top_band_m
        self.margin_px = margin_px
        self.min_region_px = min_region_px
        self.max_width_px = max_width_px
        self.max_length_px = max_length_px
        self.max_regions = max_regions
        #: regions an erosion by this many pixels removes are skipped (0: none)
        self.sliver_px = sliver_px

    def _grasp(self, depth: np.ndarray) -> Grasp2D:
        remaining = depth.copy()
        for _ in range(self.max_regions):
            nearest = float(remaining.min())
            if not np.isfinite(nearest):
                break
            band = (remaining < nearest + self.top_band_m).astype(np.uint8)
            _, labels = cv2.connectedComponents(band)
            r0, c0 = np.unravel_index(int(np.argmin(remaining)), remaining.shape)
            region = labels == labels[r0, c0]
            rows, cols = np.nonzero(region)
            remaining[region] = np.inf
            if rows.size < self.min_region_px:
                continue
            if self.sliver_px and cv2.countNonZero(cv2.erode(
                    region.astype(np.uint8), np.ones((2 * self.sliver_px + 1,) * 2,
                                                     np.uint8))) == 0:
                continue  # nothing left after an erosion: a strip of a sloped wall
            pts = np.column_stack([rows, cols]).astype(np.float64)
            centre = pts.mean(axis=0)
            _, evecs = np.linalg.eigh(np.cov((pts - centre).T))
            minor = evecs[:, 0]  # (d_row, d_col) of the short axis: the closing direction
            extent = float(np.ptp((pts - centre) @ minor)) + 1.0
            length = float(np.ptp((pts - centre) @ evecs[:, 1])) + 1.0
            if extent > self.max_width_px or length > self.max_length_px:
                continue  # wider or longer than an object: a tray's rim or wall
            axis = minor if self.closing == "minor" else evecs[:, 1]
            angle = float(np.arctan2(-axis[0], axis[1]))
            angle = (angle + np.pi / 2) % np.pi - np.pi / 2
            row = int(np.clip(round(centre[0]), 0, depth.shape[0] - 1))
            col = int(np.clip(round(centre[1]), 0, depth.shape[1] - 1))
            return Grasp2D(row=row, col=col, angle_rad=angle,
                           width_px=extent + 2 * self.margin_px, quality=1.0)
        raise NoGraspFound("no region narrow enough to grasp near the top of the scene")

    def detect(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics) -> Detection:
        intrinsics.check_image(*depth_m.shape)
        t0 = time.perf_counter()
        pre = preprocess(depth_m, self.config.crop, InputNormalisation(),
                         min_valid_fraction=self.config.min_valid_fraction)
        depth = pre.depth_m
        g = self._grasp(depth)
        pose = grasp_to_pose(g, depth, pre.crop, intrinsics)
        empty = np.zeros_like(depth)
        maps = GraspMaps.from_angle(empty, empty, empty)
        return Detection(grasps=[pose], maps=maps, preprocessed=pre,
                         timings_ms={"total": (time.perf_counter() - t0) * 1e3})


class HeightMapBaseline(HighestObjectBaseline):
    """HighestObjectBaseline on the plane-aligned height map: the highest object above the
    table, whatever the camera's height or tilt. Same interface as GraspDetector.detect.

    Its sizes are the depth-crop baseline's at the main table's camera (a D435 0.55 m above
    the table, about 1.4 mm per pixel) in metres: a region of at least 40 mm^2, at most 17 cm
    across and 26 cm long, opened 8 mm more than its extent on each side; and a region a
    3 x 3 erosion removes (a strip of a tray's sloped wall) is skipped.
    """

    name = "baseline_heightmap"

    def __init__(self, config: DetectorConfig | None = None, *,
                 spec: HeightMapSpec = HeightMapSpec(), top_band_m: float = 0.01,
                 margin_m: float = 0.008, min_region_m2: float = 4e-5,
                 max_width_m: float = 0.17, max_length_m: float = 0.26,
                 max_regions: int = 200, closing: str = "minor") -> None:
        spec.validate()
        res = spec.resolution_m
        super().__init__(config, top_band_m=top_band_m, margin_px=margin_m / res,
                         min_region_px=max(1, round(min_region_m2 / res ** 2)),
                         max_width_px=max_width_m / res, max_length_px=max_length_m / res,
                         max_regions=max_regions, closing=closing,
                         # a tray's sloped inner wall, sliced into 1 cm bands of height,
                         # leaves strips one or two cells wide where objects lean on it: no
                         # object's top is that narrow
                         sliver_px=1)
        self.spec = spec

    def detect(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics) -> Detection:
        intrinsics.check_image(*depth_m.shape)
        t0 = time.perf_counter()
        h, w = depth_m.shape
        crop = self.config.crop
        pre = make_height_map(depth_m, intrinsics, self.spec,
                              centre_px=((h - 1) / 2.0 + crop.offset_row_px,
                                         (w - 1) / 2.0 + crop.offset_col_px),
                              min_valid_fraction=self.config.min_valid_fraction)
        g = self._grasp(-pre.height_m)   # highest first, as the depth crop takes nearest first
        pose = pre.grid.grasp_pose(g, pre.height_m, intrinsics)
        empty = np.zeros_like(pre.height_m)
        maps = GraspMaps.from_angle(empty, empty, empty)
        return Detection(grasps=[pose], maps=maps, preprocessed=pre,
                         timings_ms={"total": (time.perf_counter() - t0) * 1e3})
