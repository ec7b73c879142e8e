"""Inference backends: normalised (S, S) depth in, raw (4, S, S) maps out."""

from __future__ import annotations

import numpy as np
import torch

from grasp_seg_ros.core.errors import DeviceUnavailable
from grasp_seg_ros.nets.fast import optimise_for_inference

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present; 'cuda' without a GPU raises DeviceUnavailable."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got '{device}'")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device '{device}' requested but torch sees no CUDA GPU; "
                                f"use device:=cpu or device:=auto")
    return torch.device(device)


class TorchBackend:
    """Eager PyTorch on CPU or CUDA, in inference mode.

    The model runs as rewritten by nets.fast (transposed convolutions as sub-pixel
    convolutions, fused heads, channels-last): the same outputs, 3x faster on a CPU core.
    ``optimise=False`` runs the module as it is.
    """

    name = "torch"

    def __init__(self, model: torch.nn.Module, device: torch.device, *,
                 optimise: bool = True) -> None:
        self.device = device
        model = model.eval()
        self.model = (optimise_for_inference(model) if optimise else model).to(device)

    @torch.inference_mode()
    def __call__(self, net_input: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(net_input, np.float32))[None, None]
        out = self.model(x.to(self.device, non_blocking=True))["out"]
        return out[0].float().cpu().numpy()
