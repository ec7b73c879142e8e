"""GG-CNN and GG-CNN2 (Morrison, Corke, Leitner: RSS 2018 and IJRR 2019).

Both map a (N, 1, 300, 300) normalised depth crop to a dict whose ``out`` is (N, 4, 300, 300):
channels quality, cos 2a, sin 2a, width (raw, see OutputScaling), as listed in OUTPUT_CHANNELS.
With ``angle_bins`` B > 0 the heads give (N, B + 1, H, W) instead: a quality per closing
direction (bin k centred on -90 deg + k * 180 / B deg), then width (core.grasp decodes both).
"""

from __future__ import annotations

import torch
from torch import nn

OUTPUT_CHANNELS = ("quality", "cos2", "sin2", "width")


class GraspHeads(nn.Module):
    """Four single-channel heads concatenated in OUTPUT_CHANNELS order, or with
    ``angle_bins`` B > 0 a B-channel quality head (one per closing direction) and width."""

    def __init__(self, in_channels: int, kernel_size: int = 1, angle_bins: int = 0) -> None:
        super().__init__()
        if angle_bins < 0:
            raise ValueError(f"angle_bins must be >= 0, got {angle_bins}")
        sizes = (angle_bins, 1) if angle_bins else (1,) * len(OUTPUT_CHANNELS)
        self.heads = nn.ModuleList(nn.Conv2d(in_channels, n, kernel_size) for n in sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=1)


class GGCNN(nn.Module):
    """The original GG-CNN: three strided convolutions, three transposed convolutions.

    Args:
        input_channels: depth channels in (default 1).
        filters: channels of the three encoder stages (default (32, 16, 8), as published).
    """

    def __init__(self, *, input_channels: int = 1,
                 filters: tuple[int, int, int] = (32, 16, 8)) -> None:
        super().__init__()
        f1, f2, f3 = filters
        self.encoder = nn.Sequential(
            nn.Conv2d(input_channels, f1, 9, stride=3, padding=3), nn.ReLU(inplace=True),
            nn.Conv2d(f1, f2, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(f2, f3, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(f3, f3, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(f3, f2, 5, stride=2, padding=2, output_padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(f2, f1, 9, stride=3, padding=3, output_padding=1),
            nn.ReLU(inplace=True),
        )
        # the last transposed convolution gives 301 px; a 2x2 head brings it back to 300
        self.heads = GraspHeads(f1, kernel_size=2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.heads(self.decoder(self.encoder(x)))}


class GGCNN2(nn.Module):
    """GG-CNN2: max-pooled encoder, two dilated convolutions, bilinear upsampling decoder.

    Args:
        input_channels: depth channels in (default 1).
        filters: channels of the four stages (default (16, 16, 32, 16), as published).
        dilations: dilation of the two context convolutions (default (2, 4)).
        context_kernel: kernel size of the dilated convolutions (default 5).
        angle_bins: 0 = the published cos/sin heads; B > 0 = quality per angle bin + width.
    """

    def __init__(self, *, input_channels: int = 1,
                 filters: tuple[int, int, int, int] = (16, 16, 32, 16),
                 dilations: tuple[int, int] = (2, 4), context_kernel: int = 5,
                 angle_bins: int = 0) -> None:
        super().__init__()
        f1, f2, f3, f4 = filters
        pad = context_kernel // 2
        self.features = nn.Sequential(
            nn.Conv2d(input_channels, f1, 11, padding=5), nn.ReLU(inplace=True),
            nn.Conv2d(f1, f1, 5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(f1, f2, 5, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(f2, f2, 5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(f2, f3, context_kernel, dilation=dilations[0], padding=pad * dilations[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(f3, f3, context_kernel, dilation=dilations[1], padding=pad * dilations[1]),
            nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            nn.Conv2d(f3, f4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            nn.Conv2d(f4, f4, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.heads = GraspHeads(f4, kernel_size=1, angle_bins=angle_bins)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.heads(self.features(x))}


def ggcnn(*, input_channels: int = 1) -> GGCNN:
    """GG-CNN as published (about 62 k parameters)."""
    return GGCNN(input_channels=input_channels)


def ggcnn2(*, input_channels: int = 1, angle_bins: int = 0) -> GGCNN2:
    """GG-CNN2 as published (about 66 k parameters); ``angle_bins`` > 0: binned heads."""
    return GGCNN2(input_channels=input_channels, angle_bins=angle_bins)
