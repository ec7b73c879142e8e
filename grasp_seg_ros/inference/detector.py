"""GraspDetector: one frame of depth (metres) + intrinsics -> grasps, maps and timings.

The same object serves the ROS node, the demo, benchmarks and evaluation, so they all run
exactly the same preprocessing and decoding.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import DecodeParams, GraspMaps
from grasp_seg_ros.core.heightmap import HeightMap, make_height_map
from grasp_seg_ros.core.opening import OpeningParams
from grasp_seg_ros.core.pose import GraspPose
from grasp_seg_ros.core.preprocess import CropSpec, Preprocessed, preprocess
from grasp_seg_ros.core.resources import resolve_model
from grasp_seg_ros.core.selection import GraspSelection
from grasp_seg_ros.inference.augment import augmented_forward, check_augment
from grasp_seg_ros.inference.backends import make_backend
from grasp_seg_ros.inference.decoding import decode
from grasp_seg_ros.nets.weights import ModelMetadata

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorConfig:
    """Everything about a detection that is not the model."""

    crop: CropSpec = field(default_factory=CropSpec)
    decode: DecodeParams = field(default_factory=DecodeParams)
    min_valid_fraction: float = 0.05
    opening: OpeningParams = field(default_factory=OpeningParams)
    #: test-time augmentation (inference.augment.AUGMENTS): the network also run on the
    #: input turned or mirrored, the outputs turned back and averaged
    augment: str = "none"


@dataclass(frozen=True)
class Detection:
    """The result of one frame; ``grasps`` is best first and never empty."""

    grasps: list[GraspPose]
    maps: GraspMaps
    #: the network's input before normalisation: a depth crop, or a height map (whose
    #: ``depth_m`` is the view from straight above); overlays draw on its ``depth_m``
    preprocessed: Preprocessed | HeightMap
    timings_ms: dict[str, float]

    @property
    def best(self) -> GraspPose:
        return self.grasps[0]


class GraspDetector:
    """Runs a grasp network on depth frames.

    Args:
        model: a model name shipped in models/, or a path to a .safetensors weight file or
            to an .onnx file made by grasp-seg export (run with ONNX Runtime on the CPU).
        device: 'auto' (CUDA when present), 'cpu' or 'cuda'.
        num_threads: torch intra-op threads (process-wide); 0 keeps torch's default.
        config: crop and decoding settings (the default of every ``detect`` call).
        optimise: run the exact fast rewrite of the network (nets.fast); False = as trained.
        precision: 'fp32', 'fp16' or 'bf16' (PyTorch backend).
        backend: 'torch', 'onnxruntime' (the same network exported to ONNX, on the CPU) or
            'auto' (on the CPU in fp32, whichever of the two runs this model faster on this
            machine, timed at construction; inference.backends.make_backend).
    """

    def __init__(self, model: str | Path, *, device: str = "auto", num_threads: int = 0,
                 config: DetectorConfig | None = None, optimise: bool = True,
                 precision: str = "fp32", backend: str = "torch") -> None:
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        self.model_path = resolve_model(str(model))
        self.precision = precision
        self.backend, self.metadata, self.device = make_backend(
            self.model_path, device=device, num_threads=num_threads, optimise=optimise,
            precision=precision, backend=backend)
        self.config = config or DetectorConfig()
        self.check_config(self.config)
        LOG.info("loaded %s (%s) on %s", self.model_path, self.metadata.architecture,
                 self.device)

    @property
    def metadata_summary(self) -> str:
        m: ModelMetadata = self.metadata
        if m.height_map is not None:
            hm = m.height_map
            kind = (f"height map {hm.size_px} px x {hm.resolution_m * 1e3:g} mm"
                    + (f", {m.scaling.angle_bins} angle bins" if m.scaling.angle_bins else ""))
        else:
            kind = f"depth crop {m.input_size_px} px"
        choice = getattr(self.backend, "choice", "")
        return (f"{m.architecture} ({kind}) from {self.model_path.name} on {self.device} "
                f"({self.backend.name}"
                + (f", {self.precision}" if self.precision != "fp32" else "")
                + (f"; {choice}" if choice else "") + ")")

    def check_config(self, config: DetectorConfig) -> None:
        """Raise ValueError, with the reason, for settings this model cannot honour."""
        config.opening.validate()
        check_augment(config.augment, self.metadata.scaling)
        if config.opening.mode == "measured" and self.metadata.height_map is None:
            raise ValueError(f"opening 'measured' needs a height-map model; "
                             f"{self.model_path.name} takes a depth crop (use 'auto' or "
                             "'model')")

    def detect(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics, *,
               config: DetectorConfig | None = None,
               selection: GraspSelection | None = None,
               previous_px: tuple[float, float] | None = None) -> Detection:
        """Detect grasps in a full depth image (metres, NaN = invalid).

        The model's metadata selects the input: a centre crop of ``config.crop`` or a
        plane-aligned height map around the image centre (plus the crop's offset).
        ``config`` replaces the detector's own for this call; ``selection`` keeps grasps
        inside a workspace box, on a mask and clear of obstacles;
        ``previous_px`` (closed-loop tracking: the last grasp's network-map pixel) moves the
        peak nearest it to the front.
        Raises InvalidDepth / InvalidCameraInfo for unusable input, NoGraspFound when the
        quality map holds nothing above the threshold (where the selection allows).
        """
        cfg = config or self.config
        if config is not None:
            self.check_config(cfg)
        intrinsics.check_image(*depth_m.shape)
        crop_spec = cfg.crop
        if crop_spec.output_size_px != self.metadata.input_size_px:
            crop_spec = CropSpec(crop_spec.crop_size_px, crop_spec.offset_row_px,
                                 crop_spec.offset_col_px, self.metadata.input_size_px)
        t0 = time.perf_counter()
        if self.metadata.height_map is not None:
            h, w = depth_m.shape
            pre = make_height_map(
                depth_m, intrinsics, self.metadata.height_map,
                centre_px=((h - 1) / 2.0 + crop_spec.offset_row_px,
                           (w - 1) / 2.0 + crop_spec.offset_col_px),
                min_valid_fraction=cfg.min_valid_fraction)
            net_input = self.metadata.normalisation.apply(pre.height_m)
        else:
            pre = preprocess(depth_m, crop_spec, self.metadata.normalisation,
                             min_valid_fraction=cfg.min_valid_fraction)
            net_input = pre.net_input
        t1 = time.perf_counter()
        raw = augmented_forward(self.backend, net_input, self.metadata.scaling, cfg.augment)
        t2 = time.perf_counter()
        allowed, accept = None, None
        if selection is not None:
            if selection.restricts_cells:
                allowed = selection.allowed_cells(pre.cell_points(intrinsics),
                                                  pre.cell_pixels(intrinsics))
                if not allowed.any():
                    raise NoGraspFound(f"no part of the view is {selection.describe()}")
            accept = selection.acceptor(depth_m, intrinsics)
        try:
            maps, poses = decode(raw, pre, intrinsics, self.metadata.scaling, cfg.decode,
                                 previous_px, allowed=allowed, accept=accept,
                                 opening=cfg.opening)
        except NoGraspFound as exc:
            if allowed is None:
                raise
            raise NoGraspFound(f"{exc}, {selection.describe()} ({100 * allowed.mean():.0f}% "
                               "of the view)") from None
        t3 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3,
                   "postprocess": (t3 - t2) * 1e3}
        return Detection(grasps=poses, maps=maps, preprocessed=pre, timings_ms=timings)
