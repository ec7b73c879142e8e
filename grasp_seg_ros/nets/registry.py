"""Networks by name: a plain dict of keyword-only builders."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from grasp_seg_ros.nets import ggcnn as _ggcnn
from grasp_seg_ros.nets import pspnet as _pspnet

MODELS: dict[str, Callable[..., nn.Module]] = {
    "ggcnn": _ggcnn.ggcnn,
    "ggcnn2": _ggcnn.ggcnn2,
    "pspnet_r18": _pspnet.pspnet_r18,
    "pspnet_r50": _pspnet.pspnet_r50,
    "pspnet_r101": _pspnet.pspnet_r101,
}


def list_models() -> list[str]:
    return sorted(MODELS)


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered network; unknown names raise KeyError listing the known ones."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown architecture '{name}'; registered: {list_models()}") from None
    return builder(**kwargs)
