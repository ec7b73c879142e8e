"""A plain implementation of the GG-CNN reference node's per-frame steps, for comparison.

The steps of the original GG-CNN ROS node, written directly: centre crop and resize with
OpenCV, Navier-Stokes inpainting of the whole crop (mask of NaNs, scaled to [0, 1], one-pixel
border), mean subtraction and clipping, eager PyTorch forward of the unmodified module under
``torch.no_grad``, SciPy Gaussian filters on the quality, angle and width maps and an argmax.
``grasp-seg bench`` times it beside this package's pipeline on the same frames, in the same
process, with the same weights.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import torch
from scipy import ndimage

from grasp_seg_ros.core.camera import CameraIntrinsics


class ReferencePipeline:
    def __init__(self, model: torch.nn.Module, *, crop_size: int = 300, out_size: int = 300,
                 width_scale_px: float = 150.0) -> None:
        self.model = model.eval()
        self.crop_size, self.out_size = crop_size, out_size
        self.width_scale_px = width_scale_px

    def __call__(self, depth_m: np.ndarray, intr: CameraIntrinsics) -> dict[str, float]:
        """One frame; returns stage times in ms (and keeps the grasp in ``self.last``)."""
        t0 = time.perf_counter()
        h, w = depth_m.shape
        top, left = (h - self.crop_size) // 2, (w - self.crop_size) // 2
        crop = depth_m[top:top + self.crop_size, left:left + self.crop_size]
        crop = cv2.resize(crop, (self.out_size, self.out_size), interpolation=cv2.INTER_AREA)
        crop = cv2.copyMakeBorder(crop, 1, 1, 1, 1, cv2.BORDER_DEFAULT)
        mask = np.isnan(crop).astype(np.uint8)
        crop[mask == 1] = 0
        scale = np.abs(crop).max()
        crop = crop.astype(np.float32) / scale
        crop = cv2.inpaint(crop, mask, 1, cv2.INPAINT_NS)
        crop = crop[1:-1, 1:-1] * scale
        net_in = np.clip(crop - crop.mean(), -1, 1)
        t1 = time.perf_counter()
        with torch.no_grad():
            out = self.model(torch.from_numpy(net_in.reshape(1, 1, self.out_size,
                                                             self.out_size)))["out"]
        q, cos2, sin2, width = out[0].numpy()
        t2 = time.perf_counter()
        angle = np.arctan2(sin2, cos2) / 2.0
        q = ndimage.gaussian_filter(q, 2.0)
        angle = ndimage.gaussian_filter(angle, 2.0)
        width = ndimage.gaussian_filter(width * self.width_scale_px, 1.0)
        row, col = np.unravel_index(np.argmax(q), q.shape)
        z = float(crop[row, col])
        img_row, img_col = row + top, col + left
        x = (img_col - intr.cx) / intr.fx * z
        y = (img_row - intr.cy) / intr.fy * z
        self.last = (x, y, z, float(angle[row, col]), float(width[row, col]))
        t3 = time.perf_counter()
        return {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3,
                "postprocess": (t3 - t2) * 1e3}
