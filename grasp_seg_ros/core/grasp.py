"""Decoding of the network's maps into grasps, in network-map pixels.

Angle convention: ``angle_rad`` in [-pi/2, pi/2) is the direction in which the fingers close,
measured in the displayed image from the +column axis (right) towards -row (up), i.e.
counter-clockwise on screen. The closing direction in pixels is
(d_row, d_col) = (-sin(angle), cos(angle)). The network predicts cos(2*angle) and sin(2*angle)
because a parallel-jaw grasp is the same grasp after a half turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from grasp_seg_ros.core.errors import NoGraspFound


@dataclass(frozen=True)
class OutputScaling:
    """How the raw output maps to grasps; stored in each weight file's metadata.

    ``angle_bins`` 0: channels quality, cos 2a, sin 2a, width. B > 0: B quality channels, one
    per closing direction (bin k centred on :func:`bin_angles`), then width.
    """

    width_scale_px: float = 150.0
    angle_bins: int = 0

    @property
    def channels(self) -> int:
        return self.angle_bins + 1 if self.angle_bins else 4

    def encode_width(self, width_px: np.ndarray) -> np.ndarray:
        return np.asarray(width_px, np.float32) / np.float32(self.width_scale_px)

    def decode_width(self, width_raw: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # a huge raw width becomes inf, filtered later
            return np.asarray(width_raw, np.float32) * np.float32(self.width_scale_px)

    def to_dict(self) -> dict:
        d = {"width_scale_px": self.width_scale_px}
        if self.angle_bins:
            d["angle_bins"] = self.angle_bins
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "OutputScaling":
        return cls(width_scale_px=float(d["width_scale_px"]),
                   angle_bins=int(d.get("angle_bins", 0)))


def bin_angles(bins: int) -> np.ndarray:
    """Centres of ``bins`` closing-direction bins: -90 deg + k * 180 / bins deg."""
    return (-np.pi / 2 + np.arange(bins) * np.pi / bins).astype(np.float32)


def angle_to_bins(angle_rad: float, bins: int) -> tuple[tuple[int, float], tuple[int, float]]:
    """The two bins nearest an angle with linear weights summing to 1 (bins wrap at 180)."""
    f = (float(angle_rad) + np.pi / 2) / (np.pi / bins)
    k0 = int(np.floor(f))
    w1 = f - k0
    return (k0 % bins, 1.0 - w1), ((k0 + 1) % bins, w1)


@dataclass(frozen=True)
class DecodeParams:
    """Filtering and peak picking of the predicted maps."""

    quality_sigma_px: float = 2.0
    angle_sigma_px: float = 2.0
    width_sigma_px: float = 1.0
    quality_threshold: float = 0.1
    top_k: int = 5
    peak_min_distance_px: int = 10
    #: measured openings (height-map models): when no peak's grasp fits the stroke (or stays
    #: in the allowed region), up to this many more spots are tried, best rated first,
    #: inference.decoding.FALLBACK_SPACING_PX apart (spread_cells); 0 = only the peaks
    fallback_spots: int = 80


@dataclass(frozen=True)
class GraspMaps:
    """Filtered maps in network-map pixels.

    The angle is kept as filtered cos 2a and sin 2a, or for binned heads as the filtered
    quality of every closing direction: decoding it per pixel costs more than the rest, so it
    is decoded where it is read (:meth:`angle_at`), or for the whole map on request.
    """

    quality: np.ndarray     #: (S, S) float32 (binned heads: the best direction's)
    cos2: np.ndarray | None  #: (S, S) float32, filtered cos 2a (None for binned heads)
    sin2: np.ndarray | None  #: (S, S) float32, filtered sin 2a (None for binned heads)
    width_px: np.ndarray    #: (S, S) float32, finger opening in network-map pixels
    bins: np.ndarray | None = None   #: (B, S, S) float32 filtered quality per direction

    @classmethod
    def from_angle(cls, quality: np.ndarray, angle_rad: np.ndarray,
                   width_px: np.ndarray) -> "GraspMaps":
        cos2, sin2 = encode_angle(np.asarray(angle_rad, np.float32))
        return cls(quality=quality, cos2=cos2, sin2=sin2, width_px=width_px)

    def angle_at(self, row: int, col: int) -> float:
        """The grasp angle at one pixel, convention in the module docstring."""
        if self.bins is not None:
            return float(angle_from_bins(self.bins[:, row, col]))
        return float(angle_from_cos_sin(self.cos2[row, col], self.sin2[row, col]))

    def directions_at(self, row: int, col: int, threshold: float) -> list[tuple[float, float]]:
        """The closing directions a binned head rates above ``threshold`` at one pixel, as
        (angle, quality), best first. A bin that is a local maximum over the (wrapping) bins
        is refined like angle_from_bins (the first is :meth:`angle_at`'s); a bin on the
        flank of another's peak stays at its centre (refining would pull it back towards
        that peak). Heads without bins have one direction."""
        if self.bins is None:
            return [(self.angle_at(row, col), float(self.quality[row, col]))]
        q = np.asarray(self.bins[:, row, col], np.float32)
        bins = len(q)
        prev, nxt = np.roll(q, 1), np.roll(q, -1)
        best = int(np.argmax(q))   # the first of equal maxima, as angle_from_bins takes
        out = []
        for k in np.argsort(-q, kind="stable"):
            if not q[k] > threshold:
                break
            if k == best:
                out.append((self.angle_at(row, col), float(q[k])))
                continue
            delta = 0.0
            if q[k] > prev[k] and q[k] >= nxt[k]:   # angle_from_bins' refinement
                top, p, n = (max(float(v), 0.0) for v in (q[k], prev[k], nxt[k]))
                total = p + top + n
                delta = float(np.clip((n - p) / total, -0.5, 0.5)) if total > 1e-9 else 0.0
            angle = -np.pi / 2 + (k + delta) * (np.pi / bins)
            out.append((float(np.mod(angle + np.pi / 2, np.pi) - np.pi / 2), float(q[k])))
        return out

    @property
    def angle_rad(self) -> np.ndarray:
        """(S, S) float32 angle map (decoded on every call)."""
        if self.bins is not None:
            return angle_from_bins(self.bins)
        return angle_from_cos_sin(self.cos2, self.sin2)


@dataclass(frozen=True)
class Grasp2D:
    """One grasp in network-map pixels."""

    row: int
    col: int
    angle_rad: float
    width_px: float
    quality: float

    def finger_points(self) -> np.ndarray:
        """(2, 2) array of the finger tips as (row, col); the second lies along +closing."""
        half = 0.5 * self.width_px
        d = np.array([-np.sin(self.angle_rad), np.cos(self.angle_rad)]) * half
        centre = np.array([self.row, self.col], dtype=np.float64)
        return np.stack([centre - d, centre + d])


def angle_from_cos_sin(cos2: np.ndarray, sin2: np.ndarray) -> np.ndarray:
    """Recover the grasp angle in [-pi/2, pi/2) from cos(2a), sin(2a)."""
    angle = 0.5 * np.arctan2(np.asarray(sin2, np.float64), np.asarray(cos2, np.float64))
    return (np.mod(angle + np.pi / 2, np.pi) - np.pi / 2).astype(np.float32)


def angle_difference(a_rad: np.ndarray, b_rad: np.ndarray) -> np.ndarray:
    """Smallest difference between two grasp angles, in [0, pi/2] (half-turn symmetric)."""
    d = np.mod(np.asarray(a_rad, np.float64) - np.asarray(b_rad, np.float64), np.pi)
    return np.minimum(d, np.pi - d)


def encode_angle(angle_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle -> (cos 2a, sin 2a): the training targets of the angle channels."""
    a = np.asarray(angle_rad, np.float32)
    return np.cos(2 * a), np.sin(2 * a)


def _blur(img: np.ndarray, sigma: float, out: np.ndarray | None = None) -> np.ndarray:
    """Gaussian filter (into ``out``, a contiguous float32 array of ``img``'s shape, when
    given)."""
    if sigma <= 0.0:
        return img.astype(np.float32, copy=False)
    # kernel covers +-4 sigma like scipy.ndimage.gaussian_filter; reflect border like it too
    k = 2 * int(4.0 * sigma + 0.5) + 1
    return cv2.GaussianBlur(img.astype(np.float32, copy=False), (k, k), sigma, dst=out,
                            borderType=cv2.BORDER_REFLECT)


def filter_maps(quality: np.ndarray, cos2: np.ndarray, sin2: np.ndarray, width_raw: np.ndarray,
                scaling: OutputScaling, params: DecodeParams) -> GraspMaps:
    """Gaussian-filter the raw maps (separate sigmas) and decode angle and width."""
    q = _blur(quality, params.quality_sigma_px)
    c = _blur(cos2, params.angle_sigma_px)
    s = _blur(sin2, params.angle_sigma_px)
    w = scaling.decode_width(_blur(width_raw, params.width_sigma_px))
    return GraspMaps(quality=q, cos2=c, sin2=s, width_px=np.maximum(w, 0.0))


def angle_from_bins(q: np.ndarray) -> np.ndarray:
    """(B, ...) quality per closing direction -> float32 angle of the best bin (the first of
    equal ones), refined by the centroid of it and its two neighbours, wrapping at 180 deg:
    exact for a direction shared linearly between two bins, as angle_to_bins encodes it."""
    q = np.asarray(q, np.float32)
    bins = q.shape[0]
    k = np.argmax(q, axis=0)

    def pick(index: np.ndarray) -> np.ndarray:
        return np.maximum(np.take_along_axis(q, index[None], axis=0)[0], 0.0)

    top, prev, nxt = pick(k), pick((k - 1) % bins), pick((k + 1) % bins)
    total = prev + top + nxt
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(total > 1e-9, (nxt - prev) / total, 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    angle = -np.pi / 2 + (k + delta) * (np.pi / bins)
    return (np.mod(angle + np.pi / 2, np.pi) - np.pi / 2).astype(np.float32)


def filter_bin_maps(raw: np.ndarray, scaling: OutputScaling,
                    params: DecodeParams) -> GraspMaps:
    """Binned raw maps (B + 1, S, S) -> quality (the best bin's after filtering), width, and
    the filtered bins, from which the angle is read where it is needed (angle_from_bins)."""
    bins = scaling.angle_bins
    if raw.shape[0] != bins + 1:
        raise ValueError(f"expected {bins + 1} channels for {bins} angle bins, got "
                         f"{raw.shape[0]}")
    q = np.asarray(raw[:bins], np.float32)                               # (B, S, S)
    if np.asarray(raw).transpose(1, 2, 0).flags.c_contiguous:
        # channels last (the fast backend's output): the bins, copied out contiguous, filtered
        # in one OpenCV call and their maximum per cell taken by cv2.reduce (numpy's over
        # strided bins costs more than the filtering); a cell's bins are contiguous for the
        # reads of one cell
        hwc = np.ascontiguousarray(q.transpose(1, 2, 0))                 # (S, S, B)
        if params.quality_sigma_px > 0:
            hwc = _blur(hwc, params.quality_sigma_px)
        best = cv2.reduce(hwc.reshape(-1, bins), 1, cv2.REDUCE_MAX).reshape(hwc.shape[:2])
        q = hwc.transpose(2, 0, 1)
    else:
        if params.quality_sigma_px > 0:
            # map by map, into one contiguous stack: the maximum over the bins is fast on it
            stack = np.empty(q.shape, np.float32)
            for i in range(bins):
                _blur(q[i], params.quality_sigma_px, out=stack[i])
            q = stack
        best = q.max(axis=0)
    w = scaling.decode_width(_blur(raw[bins], params.width_sigma_px))
    return GraspMaps(quality=best, cos2=None, sin2=None, width_px=np.maximum(w, 0.0), bins=q)


def maps_from_raw(raw: np.ndarray, scaling: OutputScaling, params: DecodeParams) -> GraspMaps:
    """Raw network maps (either head kind, see OutputScaling) -> filtered GraspMaps."""
    if scaling.angle_bins:
        return filter_bin_maps(raw, scaling, params)
    return filter_maps(raw[0], raw[1], raw[2], raw[3], scaling, params)


def find_peaks(quality: np.ndarray, *, threshold: float, min_distance_px: int,
               max_peaks: int) -> np.ndarray:
    """Local maxima of the quality map above a threshold, best first, as (N, 2) (row, col).

    Two peaks are at least ``min_distance_px`` apart (Chebyshev distance), as in
    skimage.feature.peak_local_max.
    """
    size = 2 * max(int(min_distance_px), 0) + 1
    # a grey dilation with a square kernel is scipy.ndimage.maximum_filter(mode="nearest"),
    # 10x faster in OpenCV
    local_max = cv2.dilate(np.asarray(quality, np.float32), np.ones((size, size), np.uint8),
                           borderType=cv2.BORDER_REPLICATE)
    is_peak = (quality == local_max) & (quality > threshold)
    rows, cols = np.nonzero(is_peak)
    order = np.argsort(-quality[rows, cols], kind="stable")
    picked: list[tuple[int, int]] = []
    for i in order:  # plateaus give several equal maxima: keep them min_distance apart
        r, c = int(rows[i]), int(cols[i])
        if all(max(abs(r - pr), abs(c - pc)) >= min_distance_px for pr, pc in picked):
            picked.append((r, c))
            if len(picked) >= max_peaks:
                break
    return np.array(picked, dtype=np.int64).reshape(-1, 2)


def spread_cells(quality: np.ndarray, *, threshold: float, spacing_px: int, max_cells: int,
                 taken: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Cells above a threshold, best first, as (N, 2) (row, col), each at least
    ``spacing_px`` (Chebyshev distance) from the others and from the cells in ``taken``.

    Unlike :func:`find_peaks` a cell need not be a local maximum: on the flank of a peak
    whose grasp cannot be used, the next spots the model rates are as good a place to look
    as the next peak.
    """
    quality = np.asarray(quality, np.float32)
    spacing = max(int(spacing_px), 1)
    blocked = np.zeros(quality.shape, bool)

    def block(r: int, c: int) -> None:
        blocked[max(r - spacing + 1, 0):r + spacing, max(c - spacing + 1, 0):c + spacing] = True

    for r, c in taken:
        block(int(r), int(c))
    flat = quality.ravel()
    above = np.flatnonzero(flat > threshold)
    order = above[np.argsort(-flat[above], kind="stable")]
    picked: list[tuple[int, int]] = []
    for r, c in zip(*np.unravel_index(order, quality.shape)):
        if len(picked) >= max_cells:
            break
        if blocked[r, c]:
            continue
        picked.append((int(r), int(c)))
        block(int(r), int(c))
    return np.array(picked, dtype=np.int64).reshape(-1, 2)


def detect_grasps(maps: GraspMaps, params: DecodeParams,
                  previous_px: tuple[float, float] | None = None) -> list[Grasp2D]:
    """Top-k grasps, best first. Raises NoGraspFound when no peak clears the threshold.

    With ``previous_px`` (closed-loop tracking, as in GG-CNN's controller) the peak nearest
    the previous grasp is moved to the front, so the arm is not sent back and forth between
    two objects of similar quality.
    """
    peaks = find_peaks(maps.quality, threshold=params.quality_threshold,
                       min_distance_px=params.peak_min_distance_px,
                       max_peaks=max(params.top_k, 1))
    if len(peaks) == 0:
        raise NoGraspFound(f"no quality peak above {params.quality_threshold:.3f} "
                           f"(map maximum {float(maps.quality.max()):.3f})")
    if previous_px is not None and len(peaks) > 1:
        dist = np.linalg.norm(peaks - np.asarray(previous_px, np.float64), axis=1)
        nearest = int(np.argmin(dist))
        peaks = np.concatenate([peaks[nearest:nearest + 1], np.delete(peaks, nearest, 0)])
    return [Grasp2D(row=int(r), col=int(c), angle_rad=maps.angle_at(r, c),
                    width_px=float(maps.width_px[r, c]), quality=float(maps.quality[r, c]))
            for r, c in peaks]
