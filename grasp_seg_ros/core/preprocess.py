"""Depth preprocessing shared by the node, the datasets and the simulator.

full depth image (metres, NaN = invalid) -> square crop -> resize to the network size
-> hole inpainting -> normalised network input. The Crop object carries the geometry so
every pixel of the network map can be mapped back to the full image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import InvalidDepth
from grasp_seg_ros.core.rectangles import GraspRectangle

#: side of the square network input/output maps (GG-CNN and the PSPNet heads)
NETWORK_SIZE_PX = 300


@dataclass(frozen=True)
class CropSpec:
    """Where to crop: a square of ``crop_size_px`` centred on the image plus an offset.

    The square is resized to ``output_size_px`` (the network size).
    """

    crop_size_px: int = 300
    offset_row_px: int = 0
    offset_col_px: int = 0
    output_size_px: int = NETWORK_SIZE_PX

    def locate(self, height: int, width: int) -> "Crop":
        """Place the crop in an image of the given size; raise InvalidDepth when it won't fit."""
        if self.crop_size_px <= 0 or self.output_size_px <= 0:
            raise InvalidDepth(f"crop sizes must be positive, got crop {self.crop_size_px}, "
                               f"output {self.output_size_px}")
        top = (height - self.crop_size_px) // 2 + self.offset_row_px
        left = (width - self.crop_size_px) // 2 + self.offset_col_px
        if top < 0 or left < 0 or top + self.crop_size_px > height \
                or left + self.crop_size_px > width:
            raise InvalidDepth(
                f"a {self.crop_size_px}px crop offset by ({self.offset_row_px}, "
                f"{self.offset_col_px}) does not fit in a {width}x{height} image")
        return Crop(top=top, left=left, size_px=self.crop_size_px,
                    output_size_px=self.output_size_px)


@dataclass(frozen=True)
class Crop:
    """A located square crop: maps network-map pixels back to the full image and back."""

    top: int
    left: int
    size_px: int
    output_size_px: int

    @property
    def scale(self) -> float:
        """Full-image pixels per network-map pixel."""
        return self.size_px / self.output_size_px

    def to_image(self, row: np.ndarray | float, col: np.ndarray | float) -> tuple:
        """Network-map pixel (row, col) -> full-image pixel (row, col), sub-pixel exact.

        Pixel centres map to pixel centres (OpenCV's resize convention).
        """
        s = self.scale
        return (self.top + (np.asarray(row) + 0.5) * s - 0.5,
                self.left + (np.asarray(col) + 0.5) * s - 0.5)

    def from_image(self, row: np.ndarray | float, col: np.ndarray | float) -> tuple:
        """Full-image pixel (row, col) -> network-map pixel (row, col); inverse of to_image."""
        s = self.scale
        return ((np.asarray(row) - self.top + 0.5) / s - 0.5,
                (np.asarray(col) - self.left + 0.5) / s - 0.5)

    def rectangle_from_image(self, rect: GraspRectangle) -> GraspRectangle:
        """A full-image grasp rectangle -> the same rectangle in network-map pixels (the crop
        is a translation and a uniform scale: the angle is unchanged)."""
        row, col = self.from_image(rect.row, rect.col)
        return GraspRectangle(float(row), float(col), rect.angle_rad,
                              rect.opening_px / self.scale, rect.jaw_px / self.scale)

    def rectangle_to_image(self, rect: GraspRectangle) -> GraspRectangle:
        """Inverse of rectangle_from_image."""
        row, col = self.to_image(rect.row, rect.col)
        return GraspRectangle(float(row), float(col), rect.angle_rad,
                              rect.opening_px * self.scale, rect.jaw_px * self.scale)


@dataclass(frozen=True)
class InputNormalisation:
    """How a depth crop becomes the network input; stored in each weight file's metadata.

    ``mean_subtract``: depth minus its mean, then clipped to +-clip_m (GG-CNN's convention).
    ``height``: a height map (metres above the support plane, core.heightmap) clipped to
    +-clip_m, times ``scale``, nothing subtracted: the table is 0 in every frame.
    """

    kind: str = "mean_subtract"
    clip_m: float = 1.0
    scale: float = 1.0   #: multiplies the result (a height map in decimetres: 10)

    def apply(self, depth_m: np.ndarray) -> np.ndarray:
        if self.kind == "height":
            out = np.clip(depth_m, -self.clip_m, self.clip_m) * np.float32(self.scale)
            return out.astype(np.float32, copy=False)
        if self.kind != "mean_subtract":
            raise ValueError(f"unknown input normalisation '{self.kind}'")
        centred = depth_m - np.float32(depth_m.mean())
        return np.clip(centred, -self.clip_m, self.clip_m).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "clip_m": self.clip_m}
        if self.scale != 1.0:
            d["scale"] = self.scale
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "InputNormalisation":
        return cls(kind=str(d["kind"]), clip_m=float(d["clip_m"]),
                   scale=float(d.get("scale", 1.0)))


@dataclass(frozen=True)
class Preprocessed:
    """The result of preprocessing one frame."""

    depth_m: np.ndarray       #: (S, S) float32, inpainted, metres
    net_input: np.ndarray     #: (S, S) float32, normalised
    hole_mask: np.ndarray     #: (S, S) bool, True where depth was inpainted
    crop: Crop

    def cell_pixels(self, intrinsics: CameraIntrinsics | None = None) -> np.ndarray:
        """(S, S, 2) full-image pixel (row, col) of every network cell."""
        size = self.depth_m.shape[0]
        rows, cols = np.mgrid[0:size, 0:size]
        return np.stack(self.crop.to_image(rows, cols), axis=-1)

    def cell_points(self, intrinsics: CameraIntrinsics) -> np.ndarray:
        """(S, S, 3) optical-frame surface point of every network cell (inpainted depth)."""
        px = self.cell_pixels()
        return intrinsics.pixel_to_point(px[..., 0], px[..., 1], self.depth_m)


def inpaint_depth(depth_m: np.ndarray, *, radius_px: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN holes with OpenCV's Navier-Stokes inpainting; returns (filled, hole_mask).

    A one-pixel replicated border lets holes that touch the image edge be filled too.
    Frames without holes are returned as they are (no inpainting cost).
    """
    holes = np.isnan(depth_m)
    if not holes.any():
        return depth_m.astype(np.float32, copy=False), holes
    if holes.all():
        raise InvalidDepth("depth crop holds no valid pixel")
    valid_max = float(np.nanmax(np.abs(depth_m)))
    scaled = np.where(holes, 0.0, depth_m / valid_max).astype(np.float32)
    padded = cv2.copyMakeBorder(scaled, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    mask = cv2.copyMakeBorder(holes.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    filled = cv2.inpaint(padded, mask, radius_px, cv2.INPAINT_NS)[1:-1, 1:-1]
    return (filled * np.float32(valid_max)).astype(np.float32), holes


def crop_and_resize(depth_m: np.ndarray, crop: Crop) -> np.ndarray:
    """Cut the crop out and resize it to the network size, NaN-aware (NaN stays a hole).

    Downscaling averages only valid pixels (a normalised box filter), so holes do not leak
    into their neighbours; a network pixel is a hole only when all of its sources are.
    """
    window = depth_m[crop.top:crop.top + crop.size_px, crop.left:crop.left + crop.size_px]
    size = (crop.output_size_px, crop.output_size_px)
    if crop.size_px == crop.output_size_px:
        return np.array(window, dtype=np.float32)
    valid = np.isfinite(window)
    if valid.all():
        return cv2.resize(window, size, interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_AREA if crop.size_px > crop.output_size_px else cv2.INTER_LINEAR
    total = cv2.resize(np.where(valid, window, 0.0).astype(np.float32), size,
                       interpolation=interp)
    weight = cv2.resize(valid.astype(np.float32), size, interpolation=interp)
    out = np.full(size[::-1], np.nan, dtype=np.float32)
    ok = weight > 1e-3
    out[ok] = total[ok] / weight[ok]
    return out


def preprocess(depth_m: np.ndarray, crop_spec: CropSpec,
               normalisation: InputNormalisation, *,
               min_valid_fraction: float = 0.05) -> Preprocessed:
    """Full depth image (metres, NaN = invalid) -> network input and the crop geometry."""
    if depth_m.ndim != 2:
        raise InvalidDepth(f"depth must be a 2-D image, got shape {depth_m.shape}")
    crop = crop_spec.locate(*depth_m.shape)
    resized = crop_and_resize(depth_m, crop)
    valid_fraction = float(np.isfinite(resized).mean())
    if valid_fraction < min_valid_fraction:
        raise InvalidDepth(f"only {valid_fraction:.1%} of the crop holds valid depth "
                           f"(minimum {min_valid_fraction:.1%})")
    filled, holes = inpaint_depth(resized)
    return Preprocessed(depth_m=filled, net_input=normalisation.apply(filled),
                        hole_mask=holes, crop=crop)
