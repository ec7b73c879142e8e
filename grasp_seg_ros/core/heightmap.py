"""Plane-aligned orthographic height maps: a network input that does not depend on the camera.

A depth image and its intrinsics become points in the camera's optical frame; a robust fit finds
the support plane (the table); the points are rendered as height above that plane on a square
grid of ``size_px`` cells of ``resolution_m`` metres, centred where the image centre's ray meets
the plane. Whatever the camera's height, tilt or intrinsics, an object covers the same cells.

Grid axes: ``u`` (columns, to the right) is the camera's x axis projected onto the plane, ``v``
(rows, down) completes the right-handed frame (u, v, -n), ``n`` is the plane's normal towards
the camera. Seen from a camera straight above the table the map is laid out as the image is.
Angles in the map follow core.grasp's convention with rows along ``v`` and columns along ``u``.

A grasp found in the map maps back to 3-D exactly (:meth:`HeightMapGrid.grasp_pose`): approach
along -n, closing direction in the plane, centre on the top surface, all in the optical frame.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import InvalidDepth
from grasp_seg_ros.core.grasp import Grasp2D
from grasp_seg_ros.core.pose import GraspPose
from grasp_seg_ros.core.preprocess import inpaint_depth


@dataclass(frozen=True)
class HeightMapSpec:
    """Size and resolution of a model's height-map input (stored in its metadata)."""

    size_px: int = 224
    resolution_m: float = 0.002

    @property
    def extent_m(self) -> float:
        return self.size_px * self.resolution_m

    def validate(self) -> None:
        if self.size_px <= 0 or self.size_px % 4:
            raise ValueError(f"height map size must be a positive multiple of 4, got "
                             f"{self.size_px}")
        if not 0.0 < self.resolution_m <= 0.05:
            raise ValueError(f"height map resolution must be in (0, 0.05] m, got "
                             f"{self.resolution_m}")

    def to_dict(self) -> dict:
        return {"size_px": self.size_px, "resolution_m": self.resolution_m}

    @classmethod
    def from_dict(cls, d: dict) -> "HeightMapSpec":
        return cls(size_px=int(d["size_px"]), resolution_m=float(d["resolution_m"]))


@dataclass(frozen=True)
class Plane:
    """Points p with normal . p + offset = 0; ``normal`` is a unit vector towards the camera
    (the optical frame's origin), so ``height`` is positive above the plane."""

    normal: np.ndarray
    offset: float

    def height(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) @ self.normal + self.offset

    @classmethod
    def through(cls, point: np.ndarray, normal: np.ndarray) -> "Plane":
        n = np.asarray(normal, np.float64)
        n = n / np.linalg.norm(n)
        offset = -float(n @ np.asarray(point, np.float64))
        if offset < 0.0:  # make the camera (origin) lie on the positive side
            n, offset = -n, -offset
        return cls(n, offset)

    def tilt_deg(self) -> float:
        """Angle between the plane's normal and the optical axis (0 = camera straight above)."""
        return float(np.degrees(np.arccos(np.clip(-self.normal[2], -1.0, 1.0))))


def fit_plane(points: np.ndarray, *, iterations: int = 64, threshold_m: float = 0.006,
              max_points: int = 2000, min_inlier_fraction: float = 0.2,
              seed: int = 0) -> Plane | None:
    """RANSAC for the dominant plane in (N, 3) points, refined by least squares on its inliers.

    Among planes that hold nearly as many inliers as the best (within 10 %), the one farthest
    from the camera wins: a table seen past a large box top is still the table. Returns None
    when no plane holds ``min_inlier_fraction`` of the points. ``points`` may also be an
    :class:`ImagePoints`: only the points RANSAC draws are computed.
    """
    pts = points if isinstance(points, ImagePoints) else np.asarray(points)
    if len(pts) < 3:
        return None
    rng = np.random.default_rng(seed)
    if len(pts) > max_points:
        pts = pts[rng.integers(0, len(pts), max_points)]
    pts = np.asarray(pts[:] if isinstance(pts, ImagePoints) else pts, np.float64)
    tri = pts[rng.integers(0, len(pts), (iterations, 3))]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-9
    if not ok.any():
        return None
    normals = normals[ok] / norms[ok, None]
    offsets = -np.einsum("ij,ij->i", normals, tri[ok, 0])
    inliers = np.abs(pts @ normals.T + offsets) < threshold_m      # (N, planes)
    counts = inliers.sum(axis=0)
    best = counts.max()
    if best < min_inlier_fraction * len(pts):
        return None
    near_best = np.nonzero(counts >= 0.9 * best)[0]
    pick = near_best[np.argmax(np.abs(offsets[near_best]))]
    sel = pts[inliers[:, pick]]
    centroid = sel.mean(axis=0)
    _, _, vt = np.linalg.svd(sel - centroid, full_matrices=False)
    return Plane.through(centroid, vt[2])


@lru_cache(maxsize=8)
def _rays(intrinsics: CameraIntrinsics, stride: int) -> np.ndarray:
    """(2, H', W') float32 x and y of the rays with z = 1 through every ``stride``-th pixel
    (undistorted)."""
    rows, cols = np.mgrid[0:intrinsics.height:stride, 0:intrinsics.width:stride]
    rays = intrinsics.pixel_to_point(rows, cols, 1.0)
    out = np.ascontiguousarray(np.moveaxis(rays[..., :2], -1, 0), np.float32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=8)
def _ray_ranges(intrinsics: CameraIntrinsics, stride: int) -> tuple[np.ndarray, ...]:
    """Per column the least and greatest x/z of its rays, per row those of y/z (they vary
    along a column or row only under lens distortion)."""
    rays = _rays(intrinsics, stride)
    return rays[0].min(axis=0), rays[0].max(axis=0), rays[1].min(axis=1), rays[1].max(axis=1)


@dataclass(frozen=True)
class HeightMapGrid:
    """Where a height map lies: centre on the plane, in-plane axes, normal, cell size."""

    centre_m: np.ndarray      #: (3,) grid centre on the plane, optical frame
    u: np.ndarray             #: (3,) column direction
    v: np.ndarray             #: (3,) row direction
    normal: np.ndarray        #: (3,) plane normal towards the camera
    resolution_m: float
    size_px: int

    @classmethod
    def facing(cls, plane: Plane, intrinsics: CameraIntrinsics, spec: HeightMapSpec, *,
               centre_px: tuple[float, float] | None = None) -> "HeightMapGrid":
        """The grid around the point where the ray of ``centre_px`` (default the image
        centre) meets the plane, its columns along the camera's projected x axis."""
        n = plane.normal
        if centre_px is None:
            centre_px = ((intrinsics.height - 1) / 2.0, (intrinsics.width - 1) / 2.0)
        ray = intrinsics.pixel_to_point(centre_px[0], centre_px[1], 1.0)
        denom = float(n @ ray)
        if denom >= -1e-6:
            raise InvalidDepth("the camera's centre ray does not meet the support plane "
                               f"(plane tilted {plane.tilt_deg():.0f} deg from the optical axis)")
        centre = ray * (-plane.offset / denom)
        x = np.array([1.0, 0.0, 0.0]) - n * n[0]
        u = x / np.linalg.norm(x)
        v = np.cross(-n, u)
        return cls(centre, u, v, n.copy(), float(spec.resolution_m), int(spec.size_px))

    def moved(self, *, shift_px: tuple[float, float] = (0.0, 0.0), rotation_rad: float = 0.0,
              mirror: bool = False) -> "HeightMapGrid":
        """The grid shifted by (rows, cols) cells, turned about the normal, or mirrored
        (columns reversed): training augmentation that renders instead of warping."""
        centre = self.centre_m + self.resolution_m * (shift_px[0] * self.v + shift_px[1] * self.u)
        c, s = np.cos(rotation_rad), np.sin(rotation_rad)
        u = c * self.u - s * self.v
        v = s * self.u + c * self.v
        return replace(self, centre_m=centre, u=-u if mirror else u, v=v)

    @property
    def _c(self) -> float:
        return (self.size_px - 1) / 2.0

    def to_cells(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(..., 3) optical-frame points -> (row, col, height above the plane), in the
        points' float type (float32 points: one float32 product for a whole frame)."""
        p = np.asarray(points)
        dtype = p.dtype if p.dtype in (np.float32, np.float64) else np.float64
        m = np.stack([self.v / self.resolution_m, self.u / self.resolution_m, self.normal],
                     axis=1).astype(dtype)
        shift = (np.array([self._c, self._c, 0.0]) - self.centre_m @ m).astype(dtype)
        out = p.astype(dtype, copy=False) @ m + shift
        return out[..., 0], out[..., 1], out[..., 2]

    def to_points(self, row, col, height) -> np.ndarray:
        """(row, col, height) -> (..., 3) optical-frame points; inverse of to_cells."""
        row, col, height = np.broadcast_arrays(np.asarray(row, np.float64),
                                               np.asarray(col, np.float64),
                                               np.asarray(height, np.float64))
        return (self.centre_m + ((col - self._c) * self.resolution_m)[..., None] * self.u
                + ((row - self._c) * self.resolution_m)[..., None] * self.v
                + height[..., None] * self.normal)

    def direction(self, angle_rad: float) -> np.ndarray:
        """The 3-D closing direction of a map angle (core.grasp's convention)."""
        return np.cos(angle_rad) * self.u - np.sin(angle_rad) * self.v

    def angle_of(self, direction: np.ndarray) -> float:
        """A 3-D direction's map angle in [-pi/2, pi/2) (its projection onto the plane)."""
        d = np.asarray(direction, np.float64)
        a = np.arctan2(-(d @ self.v), d @ self.u)
        return float((a + np.pi / 2) % np.pi - np.pi / 2)

    def grasp_pose(self, grasp: Grasp2D, height_m: np.ndarray,
                   intrinsics: CameraIntrinsics) -> GraspPose:
        """A grasp found in the height map -> pose in the optical frame (module docstring)."""
        return self.grasp_poses([grasp], height_m, intrinsics)[0]

    def grasp_poses(self, grasps: list[Grasp2D], height_m: np.ndarray,
                    intrinsics: CameraIntrinsics) -> list[GraspPose]:
        """:meth:`grasp_pose` of each grasp, their frames, positions and pixels computed for
        all of them at once (the orientations in one SciPy call)."""
        if not grasps:
            return []
        z_axis = -self.normal
        x_axes = np.array([self.direction(g.angle_rad) for g in grasps])
        frames = np.stack([x_axes, np.cross(z_axis, x_axes),
                           np.broadcast_to(z_axis, x_axes.shape)], axis=2)   # columns x, y, z
        finite = np.isfinite(frames).all(axis=(1, 2))
        quats = np.full((len(grasps), 4), np.nan)
        if finite.any():
            quats[finite] = Rotation.from_matrix(frames[finite]).as_quat()
        rows = np.array([g.row for g in grasps])
        cols = np.array([g.col for g in grasps])
        positions = self.to_points(rows, cols, height_m[rows, cols].astype(np.float64))
        pixels = intrinsics.point_to_pixel(positions)
        # the highest point between the fingers, as a depth along the approach from the camera
        camera_height = float(-(self.centre_m @ self.normal))
        return [GraspPose(position_m=position, quat_xyzw=quat, angle_rad=g.angle_rad,
                          width_m=float(g.width_px * self.resolution_m), quality=g.quality,
                          finger_depth_m=camera_height - _top_between_fingers(g, height_m),
                          image_px=(float(px[0]), float(px[1])), grasp_2d=g)
                for g, quat, position, px in zip(grasps, quats, positions, pixels)]


def _top_between_fingers(grasp: Grasp2D, height_m: np.ndarray) -> float:
    """The highest cell on the line between the finger tips (3 cells thick) and at the grasp;
    NaN when the tips are not finite."""
    tips = grasp.finger_points()
    if not (np.isfinite(tips).all() and np.abs(tips).max() < 1e6):
        return float("nan")
    # drawn in the window of the map that holds the line (the same cells as on the whole
    # map, in a fraction of the time)
    (r0, c0), (r1, c1) = np.rint(tips).astype(int)
    rows, cols = height_m.shape
    top, left = max(min(r0, r1, grasp.row) - 2, 0), max(min(c0, c1, grasp.col) - 2, 0)
    bottom = min(max(r0, r1, grasp.row) + 3, rows)
    right = min(max(c0, c1, grasp.col) + 3, cols)
    window = height_m[top:bottom, left:right]
    mask = np.zeros(window.shape, np.uint8)
    cv2.line(mask, (int(c0 - left), int(r0 - top)), (int(c1 - left), int(r1 - top)), 1,
             thickness=3)
    mask[grasp.row - top, grasp.col - left] = 1
    return float(np.max(window[mask.astype(bool)]))


@dataclass(frozen=True)
class HeightMap:
    """One frame as a height map."""

    height_m: np.ndarray      #: (S, S) float32 height above the plane, holes inpainted
    hole_mask: np.ndarray     #: (S, S) bool, True where nothing was seen (inpainted)
    grid: HeightMapGrid
    plane: Plane
    plane_fitted: bool        #: False: no plane was found, the optical axis was used

    def describe_plane(self) -> str:
        """One line for diagnostics: the plane that was used."""
        if not self.plane_fitted:
            return "none found: heights along the optical axis"
        return (f"fitted, normal {self.plane.tilt_deg():.0f} deg from the optical axis, "
                f"{self.plane.offset:.3f} m from the camera")

    @property
    def depth_m(self) -> np.ndarray:
        """The map as a depth image seen from straight above at the camera's height (what
        overlays draw on, so both inputs look alike)."""
        camera_height = float(-(self.grid.centre_m @ self.grid.normal))
        return (camera_height - self.height_m).astype(np.float32)

    def cell_points(self, intrinsics: CameraIntrinsics | None = None) -> np.ndarray:
        """(S, S, 3) optical-frame surface point of every cell (inpainted heights)."""
        size = self.height_m.shape[0]
        rows, cols = np.mgrid[0:size, 0:size]
        return self.grid.to_points(rows, cols, self.height_m)

    def cell_pixels(self, intrinsics: CameraIntrinsics) -> np.ndarray:
        """(S, S, 2) image pixel (row, col) where every cell's surface point is seen."""
        return intrinsics.point_to_pixel(self.cell_points())


@dataclass(frozen=True)
class ImagePoints:
    """The valid points of a depth image, every ``stride``-th pixel, computed on demand:
    ``points[i]`` for indices into the valid ones (as if taken out into an (N, 3) array),
    ``points[:]`` all of them."""

    rays: np.ndarray      #: (2, H', W') float32 x and y of the rays with z = 1
    z_m: np.ndarray       #: (H', W') float32 depth, NaN where invalid
    valid: np.ndarray     #: (H', W') bool
    stride: int = 1       #: every stride-th pixel of the image

    @cached_property
    def _index(self) -> np.ndarray:
        return np.flatnonzero(self.valid)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i) -> np.ndarray:
        flat = self._index[i]
        z = self.z_m.reshape(-1)[flat]
        rays = self.rays.reshape(2, -1)
        return np.stack([rays[0][flat] * z, rays[1][flat] * z, z], axis=-1)

    def window(self, rows: slice, cols: slice) -> "ImagePoints":
        """The points of a window of the (strided) image."""
        return ImagePoints(self.rays[:, rows, cols], self.z_m[rows, cols],
                           self.valid[rows, cols], self.stride)


def grid_window(points: ImagePoints, grid: HeightMapGrid, ranges: tuple[np.ndarray, ...]
                ) -> ImagePoints:
    """The window of ``points`` outside which no point falls in the grid (exactly: the same
    map renders from it, with less work where the grid covers part of the image).

    A point falls in the grid when its projection along the normal does: it lies in the
    prism over the grid's square (one cell of margin), and between the image's nearest and
    farthest depth. That prism slice is convex, so its points' rays lie within the rays of its
    eight corners; ``ranges`` (:func:`_ray_ranges`) say which columns and rows hold such rays.
    """
    n = grid.normal
    with warnings.catch_warnings():   # no valid depth at all: NaN, and no window
        warnings.simplefilter("ignore", RuntimeWarning)
        depths = np.array([np.nanmin(points.z_m), np.nanmax(points.z_m)], np.float64)
    if not np.isfinite(depths).all() or abs(n[2]) < 1e-6:
        return points
    s = grid.size_px
    corners = grid.to_points(np.array([-1.5, -1.5, s + 0.5, s + 0.5]),
                             np.array([-1.5, s + 0.5, -1.5, s + 0.5]), 0.0)
    vertices = (corners[:, None, :]
                + ((depths[None, :] - corners[:, None, 2]) / n[2])[..., None] * n)
    vx, vy = vertices[..., 0] / vertices[..., 2], vertices[..., 1] / vertices[..., 2]
    xmin, xmax, ymin, ymax = ranges
    cols = np.flatnonzero((xmax >= vx.min()) & (xmin <= vx.max()))
    rows = np.flatnonzero((ymax >= vy.min()) & (ymin <= vy.max()))
    if cols.size == 0 or rows.size == 0:
        return points.window(slice(0, 0), slice(0, 0))
    return points.window(slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))


def image_points(depth_m: np.ndarray, intrinsics: CameraIntrinsics, *,
                 cell_m: float) -> ImagePoints:
    """A depth image's points, every k-th pixel where the camera samples the scene much more
    finely than ``cell_m`` (a close 1024x768 frame)."""
    sample = depth_m[::8, ::8]
    sample = sample[np.isfinite(sample) & (sample > 0)]
    if sample.size == 0:
        sample = depth_m[np.isfinite(depth_m) & (depth_m > 0)]
        if sample.size == 0:
            raise InvalidDepth("depth image holds no valid pixel")
    footprint = float(np.median(sample)) / max(intrinsics.fx, intrinsics.fy)
    stride = max(1, int(cell_m / (2.0 * footprint)))
    z = np.asarray(depth_m[::stride, ::stride], np.float32)
    ok = np.isfinite(z) & (z > 0)
    return ImagePoints(_rays(intrinsics, stride), np.where(ok, z, np.float32(np.nan)), ok,
                       stride)


def frame_points(depth_m: np.ndarray, intrinsics: CameraIntrinsics, *,
                 cell_m: float) -> np.ndarray:
    """(N, 3) float32 finite points of a depth image (image_points, all of them)."""
    return image_points(depth_m, intrinsics, cell_m=cell_m)[:]


def _cells(points: np.ndarray | ImagePoints, grid: HeightMapGrid) -> tuple[np.ndarray, ...]:
    """(row, col, height) of every point in the grid, flat float32, NaN for invalid points."""
    m = np.stack([grid.v / grid.resolution_m, grid.u / grid.resolution_m, grid.normal])
    shift = np.array([grid._c, grid._c, 0.0]) - m @ grid.centre_m
    if isinstance(points, ImagePoints):
        z = points.z_m.reshape(-1)
        x = cv2.multiply(points.rays[0].reshape(-1), z)
        y = cv2.multiply(points.rays[1].reshape(-1), z)
    else:
        x, y, z = (np.ascontiguousarray(a, np.float32) for a in np.asarray(points).T)
    # one OpenCV pass per term: a x + b y + e, then + d z
    return tuple(cv2.scaleAdd(z, float(d), cv2.addWeighted(x, float(a), y, float(b), float(e)))
                 .reshape(-1) for (a, b, d), e in zip(m, shift))


def render(points: np.ndarray | ImagePoints, grid: HeightMapGrid, *,
           intrinsics: CameraIntrinsics | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) points or an image's points -> (height map with NaN holes, out-of-view mask).
    The highest point in a cell wins; one-cell gaps between samples are closed from their
    neighbours. Cells the camera cannot see (outside its image, given ``intrinsics``) are the
    plane (height 0)."""
    s = grid.size_px
    r, c, h = _cells(points, grid)
    r, c = np.rint(r, out=r), np.rint(c, out=c)
    inside = (r >= 0) & (r < s) & (c >= 0) & (c < s)          # NaN: outside
    flat = np.full(s * s, -np.inf, np.float32)
    np.maximum.at(flat, r[inside].astype(np.int32) * s + c[inside].astype(np.int32), h[inside])
    img = flat.reshape(s, s)
    empty = ~np.isfinite(img)
    if empty.any():
        grown = cv2.dilate(img, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
        img = np.where(empty & (grown > -1e30), grown, img)  # -inf: no neighbour either
    img[~np.isfinite(img)] = np.nan
    out_of_view = np.zeros((s, s), bool)
    if intrinsics is not None:
        out_of_view = _out_of_view(grid, intrinsics)
        img[out_of_view & np.isnan(img)] = 0.0
    return img, out_of_view


def _out_of_view(grid: HeightMapGrid, intrinsics: CameraIntrinsics) -> np.ndarray:
    """Cells of the plane outside the camera's image: the image's border, cast onto the plane,
    is a polygon in the grid. Empty when part of the border misses the plane (horizon)."""
    h, w = intrinsics.height, intrinsics.width
    t = np.linspace(0.0, 1.0, 9)
    border = np.concatenate([np.stack([np.zeros_like(t), t * w], 1),
                             np.stack([t * h, np.full_like(t, w)], 1),
                             np.stack([np.full_like(t, h), (1 - t) * w], 1),
                             np.stack([(1 - t) * h, np.zeros_like(t)], 1)]) - 0.5
    rays = intrinsics.pixel_to_point(border[:, 0], border[:, 1], 1.0)
    denom = rays @ grid.normal
    s = grid.size_px
    if (denom >= -1e-6).any():
        return np.zeros((s, s), bool)
    plane_offset = -float(grid.centre_m @ grid.normal)
    row, col, _ = grid.to_cells(rays * (-plane_offset / denom)[:, None])
    inside = np.zeros((s, s), np.uint8)
    poly = np.stack([col, row], 1) * 16.0  # 4 fractional bits
    cv2.fillPoly(inside, [np.rint(poly).astype(np.int32)], 1, shift=4)
    return ~inside.astype(bool)


def fallback_plane(points: np.ndarray) -> Plane:
    """No plane in the (N, 3) points: a plane across the optical axis at the scene's far end."""
    far = float(np.percentile(points[:, 2], 95))
    return Plane(np.array([0.0, 0.0, -1.0]), far)


def make_height_map(depth_m: np.ndarray, intrinsics: CameraIntrinsics, spec: HeightMapSpec, *,
                    plane: Plane | None = None, grid: HeightMapGrid | None = None,
                    centre_px: tuple[float, float] | None = None,
                    min_valid_fraction: float = 0.05) -> HeightMap:
    """Depth (metres, NaN = invalid) + intrinsics -> inpainted height map.

    ``plane`` given (a known table, e.g. from TF): used as it is; else fitted (RANSAC),
    falling back to the optical axis when no plane holds enough points (``plane_fitted``
    False). ``grid`` given: rendered there (training augmentation), else facing the camera.
    """
    if depth_m.ndim != 2:
        raise InvalidDepth(f"depth must be a 2-D image, got shape {depth_m.shape}")
    intrinsics.check_image(*depth_m.shape)
    points = image_points(depth_m, intrinsics, cell_m=spec.resolution_m)
    fitted = True
    if plane is None:
        plane = fit_plane(points)
        if plane is None:
            plane, fitted = fallback_plane(points[:]), False
    if grid is None:
        grid = HeightMapGrid.facing(plane, intrinsics, spec, centre_px=centre_px)
    img, _ = render(grid_window(points, grid, _ray_ranges(intrinsics, points.stride)), grid,
                    intrinsics=intrinsics)
    valid_fraction = float(np.isfinite(img).mean())
    if valid_fraction < min_valid_fraction:
        raise InvalidDepth(f"only {valid_fraction:.1%} of the height map holds valid depth "
                           f"(minimum {min_valid_fraction:.1%})")
    filled, holes = inpaint_depth(img)
    return HeightMap(height_m=filled, hole_mask=holes, grid=grid, plane=plane,
                     plane_fitted=fitted)


def _fingerprint_view() -> tuple[np.ndarray, CameraIntrinsics]:
    """A fixed 320x240 depth image that exercises every step of :func:`make_height_map`: a
    table seen 25 deg off its normal, a box, a steep ramp seen at a grazing angle (the
    comb-prone case of a tray's flared wall), a band of holes, and a pixel of noise."""
    intr = CameraIntrinsics(fx=300.0, fy=300.0, cx=159.5, cy=119.5, width=320, height=240)
    rows, cols = np.mgrid[0:240, 0:320].astype(np.float64)
    ray = intr.pixel_to_point(rows, cols, 1.0)
    tilt = np.radians(25.0)
    normal = np.array([0.0, -np.sin(tilt), -np.cos(tilt)])      # towards the camera
    depth = 0.6 / -(ray @ normal)                               # table 0.6 m from the camera
    depth[90:140, 130:190] -= 0.05                              # a box 5 cm tall
    ramp = (cols - 220.0).clip(0.0, 40.0)
    depth[40:110, 220:260] -= (0.002 * ramp)[40:110, 220:260]   # 8 cm over 40 pixels
    depth[170:178, 60:200] = np.nan                             # holes
    depth[20, 20] += 0.03
    return depth.astype(np.float32), intr


@lru_cache(maxsize=1)
def render_fingerprint() -> str:
    """A digest of what :func:`make_height_map` makes of a fixed depth image
    (:func:`_fingerprint_view`), heights rounded to 0.1 mm: caches of rendered maps
    (training.regrid's samples) are named by it, so that maps rendered by other code are
    never mixed with this code's. Floating-point differences between processors may change
    it from one machine to another: the cache is then made again there, never mixed."""
    depth, intr = _fingerprint_view()
    hm = make_height_map(depth, intr, HeightMapSpec(size_px=96, resolution_m=0.004))
    digest = hashlib.sha256()
    digest.update(np.rint(hm.height_m.astype(np.float64) * 1e4).astype(np.int64).tobytes())
    digest.update(hm.hole_mask.tobytes())
    digest.update(np.round(hm.plane.normal, 4).tobytes())
    return digest.hexdigest()[:8]
