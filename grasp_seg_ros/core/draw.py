"""Pictures for people: depth crops with grasps drawn, colourised quality maps."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from grasp_seg_ros.core.grasp import Grasp2D


def colourise(img: np.ndarray, *, lo: float | None = None, hi: float | None = None,
              colormap: int = cv2.COLORMAP_VIRIDIS) -> np.ndarray:
    """Float image -> BGR uint8 through an OpenCV colour map (NaN drawn black)."""
    finite = np.isfinite(img)
    lo = float(np.min(img[finite])) if lo is None and finite.any() else (lo or 0.0)
    hi = float(np.max(img[finite])) if hi is None and finite.any() else (hi or 1.0)
    span = hi - lo if hi > lo else 1.0
    scaled = np.clip((np.where(finite, img, lo) - lo) / span, 0.0, 1.0)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), colormap)
    bgr[~finite] = 0
    return bgr


def draw_grasps(depth_m: np.ndarray, grasps: Sequence[Grasp2D], *,
                upscale: int = 2) -> np.ndarray:
    """Depth crop (near = bright) with each grasp drawn as a gripper; the best in red."""
    grey = colourise(-depth_m, colormap=cv2.COLORMAP_BONE)
    img = cv2.resize(grey, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_NEAREST)
    for i, g in enumerate(reversed(list(grasps))):
        best = i == len(grasps) - 1
        colour = (0, 0, 255) if best else (0, 200, 255)
        (r0, c0), (r1, c1) = g.finger_points() * upscale
        # the jaws run perpendicular to the closing direction (-sin a, cos a) in (row, col)
        normal = np.array([np.cos(g.angle_rad), np.sin(g.angle_rad)])
        half_jaw = max(4.0, 0.2 * g.width_px) * upscale
        for r, c in ((r0, c0), (r1, c1)):
            p = np.array([r, c])
            a, b = p - normal * half_jaw, p + normal * half_jaw
            cv2.line(img, (int(a[1]), int(a[0])), (int(b[1]), int(b[0])), colour, 2 + best)
        cv2.line(img, (int(c0), int(r0)), (int(c1), int(r1)), colour, 1)
        cv2.circle(img, (int(g.col * upscale), int(g.row * upscale)), 3, colour, -1)
    return img
