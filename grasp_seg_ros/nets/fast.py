"""Exact rewrites of a trained network for fast inference (same function, fewer cycles).

- A transposed convolution with stride s becomes a plain convolution producing s*s phases per
  output channel, then ``PixelShuffle(s)`` and a crop (the "sub-pixel convolution" identity).
  PyTorch's CPU transposed convolution scatters through col2im and is several times slower
  than its convolution GEMM path; GG-CNN's last 9x9 stride-3 layer was most of its time.
- The four single-channel grasp heads become one four-channel convolution.
- Channels-last memory format on the CPU (oneDNN's preferred layout).

``optimise_for_inference(model)`` returns a new module; the trained one is untouched and the
weight files do not change. tests/nets checks outputs against the original.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from grasp_seg_ros.nets.ggcnn import GraspHeads


class SubPixelConvTranspose2d(nn.Module):
    """Computes what an ``nn.ConvTranspose2d`` (groups 1, dilation 1) computes."""

    def __init__(self, tconv: nn.ConvTranspose2d) -> None:
        super().__init__()
        if tconv.groups != 1 or tconv.dilation != (1, 1):
            raise ValueError("only groups=1, dilation=1 transposed convolutions are rewritten")
        if tconv.stride[0] != tconv.stride[1]:
            raise ValueError("only square strides are rewritten")
        s = tconv.stride[0]
        w = tconv.weight.detach()                      # (in, out, kh, kw)
        c_in, c_out, kh, kw = w.shape
        mh, mw = math.ceil(kh / s), math.ceil(kw / s)
        w = F.pad(w, (0, mw * s - kw, 0, mh * s - kh))  # kernel up to a multiple of s
        # phase (ry, rx), tap (jy, jx): weight[i, o, s*(m-1-jy)+ry, s*(m-1-jx)+rx]
        w = w.reshape(c_in, c_out, mh, s, mw, s).flip(2, 4)
        w = w.permute(1, 3, 5, 0, 2, 4).reshape(c_out * s * s, c_in, mh, mw)
        self.conv = nn.Conv2d(c_in, c_out * s * s, (mh, mw), padding=(mh - 1, mw - 1),
                              bias=tconv.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(w)
            if tconv.bias is not None:
                self.conv.bias.copy_(tconv.bias.detach().repeat_interleave(s * s))
        self.shuffle = nn.PixelShuffle(s)
        self.stride = s
        self.padding = tconv.padding
        self.output_padding = tconv.output_padding
        self.kernel = (kh, kw)
        self.bias = None if tconv.bias is None else tconv.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_h, n_w = x.shape[-2:]
        s, (ph, pw), (oh, ow) = self.stride, self.padding, self.output_padding
        out_h = (n_h - 1) * s - 2 * ph + self.kernel[0] + oh
        out_w = (n_w - 1) * s - 2 * pw + self.kernel[1] + ow
        y = self.shuffle(self.conv(x))
        y = y[..., ph:ph + out_h, pw:pw + out_w]
        missing_h, missing_w = out_h - y.shape[-2], out_w - y.shape[-1]
        if missing_h > 0 or missing_w > 0:  # output_padding beyond the kernel's reach: bias
            y = F.pad(y, (0, missing_w, 0, missing_h))
            if self.bias is not None:
                edge = torch.zeros_like(y[:1, :1])
                edge[..., y.shape[-2] - missing_h:, :] = 1
                edge[..., :, y.shape[-1] - missing_w:] = 1
                y = y + edge * self.bias.to(y)[None, :, None, None]
        return y


class FusedHeads(nn.Module):
    """GraspHeads' four convolutions as one (same outputs, one pass over the features)."""

    def __init__(self, heads: GraspHeads) -> None:
        super().__init__()
        convs = list(heads.heads)
        first = convs[0]
        self.conv = nn.Conv2d(first.in_channels, len(convs), first.kernel_size,
                              stride=first.stride, padding=first.padding,
                              dilation=first.dilation, bias=first.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat([c.weight for c in convs], 0))
            if first.bias is not None:
                self.conv.bias.copy_(torch.cat([c.bias for c in convs], 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _rewrite(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.ConvTranspose2d):
            setattr(module, name, SubPixelConvTranspose2d(child))
        elif isinstance(child, GraspHeads):
            setattr(module, name, FusedHeads(child))
        else:
            _rewrite(child)


def optimise_for_inference(model: nn.Module, *, channels_last: bool = True) -> nn.Module:
    """A copy of ``model`` rewritten for inference (eval mode; outputs unchanged)."""
    fast = copy.deepcopy(model).eval()
    _rewrite(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    return fast
