"""PSPNet for grasp maps: a dilated torchvision ResNet, a context module, grasp heads.

(Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017, applied to GG-CNN's four maps.)

- Input (N, 1, S, S) normalised depth; a 1x1 convolution maps it to the three channels a
  ResNet expects (initialised to copy depth into each), so ImageNet weights can be loaded into
  the trunk (``trunk_weights``: a local state dict, or ``"imagenet"`` through torchvision's
  weights API where downloads are possible).
- Trunk: ResNet18/34 (BasicBlock; dilated here by hand, torchvision only dilates
  Bottlenecks) or ResNet50/101, output stride 8 (layer3 dilation 2, layer4 dilation 4) or 16.
- Context: the pyramid pooling module (bins 1, 2, 3, 6 by default) or DeepLab v3's ASPP
  (torchvision's), then a 3x3 fusion convolution.
- Heads: quality, cos 2a, sin 2a, width (1x1), or with ``angle_bins`` B > 0 a quality per
  closing direction and width (nets.ggcnn.GraspHeads); bilinear upsampling to the input size.
- Auxiliary head on layer3 (as PSPNet): ``forward`` returns ``{"out", "aux"}`` in training and
  evaluation alike (``aux`` absent when built with ``aux=False``); losses live outside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.segmentation.deeplabv3 import ASPP

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.nets.ggcnn import GraspHeads

_TRUNKS = {"resnet18": (torchvision.models.resnet18, 256, 512),
           "resnet34": (torchvision.models.resnet34, 256, 512),
           "resnet50": (torchvision.models.resnet50, 1024, 2048),
           "resnet101": (torchvision.models.resnet101, 1024, 2048)}


def _conv_bn_relu(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class PyramidPooling(nn.Module):
    """Average-pool to each bin size, reduce, upsample, concatenate with the input."""

    def __init__(self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        reduced = in_channels // len(bins)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_channels, reduced, 1, bias=False),
                          nn.BatchNorm2d(reduced), nn.ReLU(inplace=True)) for b in bins)
        self.out_channels = in_channels + reduced * len(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        return torch.cat([x] + [F.interpolate(s(x), size=size, mode="bilinear",
                                              align_corners=False) for s in self.stages], 1)


def _dilate_basic_blocks(layer: nn.Sequential, dilation: int) -> None:
    """Turn a strided BasicBlock layer into a dilated one (stride 1)."""
    for i, block in enumerate(layer):
        if i == 0:
            block.conv1.stride = (1, 1)
            if block.downsample is not None:
                block.downsample[0].stride = (1, 1)
        for conv in (block.conv1, block.conv2):
            conv.dilation = (dilation, dilation)
            conv.padding = (dilation, dilation)


class PSPNet(nn.Module):
    """See the module docstring.

    Args:
        backbone: resnet18 | resnet34 | resnet50 | resnet101.
        output_stride: 8 or 16.
        context: "ppm" (pyramid pooling) or "aspp".
        bins: pyramid pooling bin sizes.
        atrous_rates: ASPP rates (at output stride 8; halved at 16).
        aux: build the auxiliary head on layer3.
        fusion_channels: channels after the context module (default 512 for ResNet50/101,
            128 for ResNet18/34).
        trunk_weights: a local ImageNet-style ResNet state dict, or "imagenet".
        angle_bins: 0 = the cos/sin heads; B > 0 = quality per angle bin + width (both heads).
    """

    def __init__(self, *, backbone: str = "resnet18", output_stride: int = 8,
                 context: str = "ppm", bins: Sequence[int] = (1, 2, 3, 6),
                 atrous_rates: Sequence[int] = (12, 24, 36), aux: bool = True,
                 fusion_channels: int | None = None, input_channels: int = 1,
                 trunk_weights: str | Path | None = None, dropout: float = 0.1,
                 angle_bins: int = 0) -> None:
        super().__init__()
        if backbone not in _TRUNKS:
            raise ValueError(f"backbone must be one of {sorted(_TRUNKS)}, got '{backbone}'")
        if output_stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")
        if context not in ("ppm", "aspp"):
            raise ValueError(f"context must be 'ppm' or 'aspp', got '{context}'")
        build, c3, c4 = _TRUNKS[backbone]
        bottleneck = c4 == 2048
        dilate = [False, output_stride == 8, True]
        self.adapter = nn.Conv2d(input_channels, 3, 1)
        with torch.no_grad():
            self.adapter.weight.fill_(1.0 / input_channels)
            self.adapter.bias.zero_()
        trunk = build(weights=None, replace_stride_with_dilation=dilate) if bottleneck \
            else build(weights=None)
        if not bottleneck:
            if output_stride == 8:
                _dilate_basic_blocks(trunk.layer3, 2)
                _dilate_basic_blocks(trunk.layer4, 4)
            else:
                _dilate_basic_blocks(trunk.layer4, 2)
        if trunk_weights is not None:
            load_trunk_weights(trunk, trunk_weights, backbone)
        self.stem = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool)
        self.layer1, self.layer2 = trunk.layer1, trunk.layer2
        self.layer3, self.layer4 = trunk.layer3, trunk.layer4
        fusion = fusion_channels or (512 if bottleneck else 128)
        if context == "ppm":
            ppm = PyramidPooling(c4, bins)
            self.context = nn.Sequential(ppm, _conv_bn_relu(ppm.out_channels, fusion, 3))
        else:
            rates = [r * 8 // output_stride for r in atrous_rates]
            self.context = nn.Sequential(ASPP(c4, rates, out_channels=fusion),
                                         _conv_bn_relu(fusion, fusion, 3))
        self.head = nn.Sequential(nn.Dropout2d(dropout),
                                  GraspHeads(fusion, kernel_size=1, angle_bins=angle_bins))
        self.aux_head = nn.Sequential(
            _conv_bn_relu(c3, fusion // 2, 3), nn.Dropout2d(dropout),
            GraspHeads(fusion // 2, kernel_size=1, angle_bins=angle_bins)) if aux else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = x.shape[-2:]
        f = self.layer2(self.layer1(self.stem(self.adapter(x))))
        f3 = self.layer3(f)
        out = {"out": F.interpolate(self.head(self.context(self.layer4(f3))), size=size,
                                    mode="bilinear", align_corners=False)}
        if self.aux_head is not None:
            out["aux"] = F.interpolate(self.aux_head(f3), size=size, mode="bilinear",
                                       align_corners=False)
        return out


def load_trunk_weights(trunk: nn.Module, weights: str | Path, backbone: str) -> None:
    """Load ImageNet ResNet weights into the trunk (the classifier is dropped)."""
    if str(weights) == "imagenet":
        enum = torchvision.models.get_model_weights(backbone)
        state = enum.DEFAULT.get_state_dict(progress=True)
        source = f"torchvision's {enum.DEFAULT}"
    else:
        path = Path(weights)
        if not path.is_file():
            raise ModelFileError(f"trunk weights {path} do not exist; give a ResNet state dict "
                                 "saved with torch.save(model.state_dict(), path)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelFileError(f"trunk weights {path} cannot be read ({exc}); expected a "
                                 "torch.save'd ResNet state dict") from exc
        source = str(path)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = trunk.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # tensor shapes of another ResNet
        raise ModelFileError(f"trunk weights from {source} do not fit {backbone}: "
                             f"{str(exc).splitlines()[1].strip()}") from None
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ModelFileError(f"trunk weights from {source} do not fit {backbone}: "
                             f"missing {missing[:5]}, unexpected {unexpected[:5]}")


def _builder(backbone: str):
    def build(**kwargs) -> PSPNet:
        return PSPNet(backbone=backbone, **kwargs)
    build.__doc__ = f"PSPNet with a dilated {backbone} trunk (kwargs: see PSPNet)."
    return build


pspnet_r18 = _builder("resnet18")
pspnet_r50 = _builder("resnet50")
pspnet_r101 = _builder("resnet101")
