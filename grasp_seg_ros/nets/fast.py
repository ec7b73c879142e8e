"""Exact rewrites of a trained network for fast inference (same function, fewer cycles).

- A transposed convolution with stride s becomes a plain convolution producing s*s phases per
  output channel, then ``PixelShuffle(s)`` and a crop (the "sub-pixel convolution" identity).
  PyTorch's CPU transposed convolution scatters through col2im and is several times slower
  than its convolution GEMM path; GG-CNN's last 9x9 stride-3 layer was most of its time.
- The four single-channel grasp heads become one four-channel convolution.
- Channels-last memory format on the CPU (oneDNN's preferred layout).
- A ReLU right after a transposed convolution does the crop's copy in the same pass.
- PSPNet's auxiliary head, a training aid, is not run.

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
    """Computes what an ``nn.ConvTranspose2d`` (groups 1, dilation 1) computes.

    With ``relu=True`` it computes ``relu(tconv(x))``: the activation then does the crop's
    copy in the same pass and hands the next layer a dense tensor (a strided crop would be
    copied again by the next convolution).
    """

    def __init__(self, tconv: nn.ConvTranspose2d, *, relu: bool = False) -> None:
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
        # The shuffled map has (n + m - 1) * s rows; the transposed convolution's output
        # starts `padding` rows in and ends `kernel + output_padding - padding - m * s` rows
        # past it (negative: before its end). Both offsets are constants, so the forward pass
        # has no shape-dependent branches (FX-traceable, exportable).
        self.start = tconv.padding
        self.end = tuple(k + op - p - m * s for k, op, p, m in
                         zip((kh, kw), tconv.output_padding, tconv.padding, (mh, mw)))
        bias = tconv.bias.detach().clone() if tconv.bias is not None else torch.zeros(c_out)
        self.register_buffer("edge_bias", bias[None, :, None, None], persistent=False)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(self.conv(x))
        (sh, sw), (eh, ew) = self.start, self.end
        y = y[..., sh:(y.shape[-2] + eh if eh < 0 else None),
              sw:(y.shape[-1] + ew if ew < 0 else None)]
        if eh > 0 or ew > 0:  # output_padding beyond the kernel's reach: only the bias there
            y = F.pad(y, (0, max(ew, 0), 0, max(eh, 0)))
            edge = torch.zeros_like(y[:1, :1])
            if eh > 0:
                edge[..., -eh:, :] = 1
            if ew > 0:
                edge[..., :, -ew:] = 1
            y = y + edge * self.edge_bias.to(y)
        return torch.relu(y) if self.relu else y


class FusedHeads(nn.Module):
    """GraspHeads' convolutions as one (same outputs, one pass over the features)."""

    def __init__(self, heads: GraspHeads) -> None:
        super().__init__()
        convs = list(heads.heads)
        first = convs[0]
        self.conv = nn.Conv2d(first.in_channels, sum(c.out_channels for c in convs),
                              first.kernel_size,
                              stride=first.stride, padding=first.padding,
                              dilation=first.dilation, bias=first.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat([c.weight for c in convs], 0))
            if first.bias is not None:
                self.conv.bias.copy_(torch.cat([c.bias for c in convs], 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _rewrite(module: nn.Module) -> None:
    children = list(module.named_children())
    for i, (name, child) in enumerate(children):
        if isinstance(child, nn.ConvTranspose2d):
            # inside a Sequential, a ReLU right after is folded in (and becomes Identity)
            nxt = children[i + 1] if i + 1 < len(children) else None
            fold = (isinstance(module, nn.Sequential) and nxt is not None
                    and type(nxt[1]) is nn.ReLU)
            setattr(module, name, SubPixelConvTranspose2d(child, relu=fold))
            if fold:
                setattr(module, nxt[0], nn.Identity())
        elif isinstance(child, GraspHeads):
            setattr(module, name, FusedHeads(child))
        else:
            _rewrite(child)


def optimise_for_inference(model: nn.Module, *, channels_last: bool = True) -> nn.Module:
    """A copy of ``model`` rewritten for inference (eval mode; ``out`` unchanged).

    A training-only auxiliary head (PSPNet's ``aux_head``) is dropped: the copy returns
    ``out`` alone and skips that work.
    """
    fast = copy.deepcopy(model).eval()
    if getattr(fast, "aux_head", None) is not None:
        fast.aux_head = None
    _rewrite(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    return fast
