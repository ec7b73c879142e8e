"""Test helpers: model files with known behaviour, synthetic frames."""

from pathlib import Path

import numpy as np
import torch

from grasp_seg_ros.nets import get_model
from grasp_seg_ros.nets.weights import ModelMetadata, save_weights


def nearest_surface_model(path: Path) -> Path:
    """A real GG-CNN2 weight file whose hand-set weights make quality = -5 x normalised depth.

    Nearer surfaces score higher, width is 30 network pixels, angle 0: the tests know the
    answer without depending on how well a trained model does.
    """
    model = get_model("ggcnn2")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for layer in model.features:
            if isinstance(layer, torch.nn.Conv2d):  # identity, +1 to stay above the ReLUs
                k = layer.kernel_size[0] // 2
                layer.weight[0, 0, k, k] = 1.0
                layer.bias[0] = 1.0
        # the features carry depth_normalised + 8 (one +1 per conv)
        model.heads.heads[0].weight[0, 0] = -5.0
        model.heads.heads[0].bias[0] = 40.0
        model.heads.heads[1].bias[0] = 1.0   # cos 2a = 1 -> angle 0
        model.heads.heads[3].bias[0] = 0.2   # width 30 px
    return save_weights(path, model, ModelMetadata("ggcnn2", description="test model"))


def highest_surface_height_map_model(path: Path, *, second_bin: int | None = None) -> Path:
    """A binned GG-CNN2 on height maps (224 x 2 mm), hand-set like nearest_surface_model:
    quality = 5 x height in the 0 deg bin only, width 15 cells (3 cm); ``second_bin`` rates
    one more direction a little lower (4.5 x height)."""
    from grasp_seg_ros.core.grasp import OutputScaling
    from grasp_seg_ros.core.heightmap import HeightMapSpec
    from grasp_seg_ros.core.preprocess import InputNormalisation
    model = get_model("ggcnn2", angle_bins=12)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for layer in model.features:
            if isinstance(layer, torch.nn.Conv2d):
                k = layer.kernel_size[0] // 2
                layer.weight[0, 0, k, k] = 1.0
                layer.bias[0] = 1.0
        model.heads.heads[0].weight[6, 0] = 5.0    # bin 6: -90 + 6 x 15 = 0 deg
        model.heads.heads[0].bias[6] = -40.0
        if second_bin is not None:
            model.heads.heads[0].weight[second_bin, 0] = 4.5
            model.heads.heads[0].bias[second_bin] = -36.0
        model.heads.heads[1].bias[0] = 0.3          # width 0.3 x 50 = 15 cells
    meta = ModelMetadata("ggcnn2", arch_kwargs={"angle_bins": 12}, input_size_px=224,
                         normalisation=InputNormalisation("height", 0.3),
                         scaling=OutputScaling(50.0, 12), height_map=HeightMapSpec(224, 0.002),
                         description="test height-map model")
    return save_weights(path, model, meta)


def box_scene(height=480, width=640, box=(200, 240, 330, 360)):
    """Depth of a table at 0.6 m with a box top at 0.5 m over the given (r0, r1, c0, c1)."""
    depth = np.full((height, width), 0.60, np.float32)
    r0, r1, c0, c1 = box
    depth[r0:r1, c0:c1] = 0.50
    depth[::17, ::13] = np.nan  # sensor holes
    return depth
