"""Training samples straight from the simulator: (network input, target maps) pairs.

Uses the same preprocessing as the node (core.preprocess) so the two cannot drift apart.
Labels are geometric (sim.labels), not trial-verified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grasp_seg_ros.core.grasp import OutputScaling
from grasp_seg_ros.core.preprocess import CropSpec, InputNormalisation, preprocess
from grasp_seg_ros.core.rectangles import draw_training_maps
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.labels import mask_rectangles
from grasp_seg_ros.sim.scene import make_scene


@dataclass(frozen=True)
class SampleSpec:
    crop_size_px: int = 300
    max_offset_px: int = 40
    noise: DepthNoise | None = DepthNoise()
    normalisation: InputNormalisation = InputNormalisation()
    scaling: OutputScaling = OutputScaling()


def make_sample(seed: int, spec: SampleSpec = SampleSpec(),
                camera: CameraConfig = CameraConfig()) -> tuple[np.ndarray, np.ndarray]:
    """One (1, S, S) input and (4, S, S) target from scene ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, 1])
    with make_scene(seed, camera=camera) as scene:
        depth_m, seg = scene.render(spec.noise, rng)
        body_ids = [o.body_id for o in scene.objects]
    off = rng.integers(-spec.max_offset_px, spec.max_offset_px, size=2, endpoint=True) \
        if spec.max_offset_px > 0 else (0, 0)
    crop_spec = CropSpec(spec.crop_size_px, int(off[0]), int(off[1]))
    pre = preprocess(depth_m, crop_spec, spec.normalisation, min_valid_fraction=0.0)
    crop = pre.crop
    rects = []
    for body in body_ids:
        rects.extend(crop.rectangle_from_image(r) for r in mask_rectangles(seg == body))
    size = crop.output_size_px
    target = draw_training_maps(rects, (size, size), spec.scaling)
    return pre.net_input[None], target
