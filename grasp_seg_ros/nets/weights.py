"""Weight files: safetensors tensors + JSON metadata. Nothing is ever unpickled.

The metadata carries everything a model needs around it (architecture, input normalisation,
output scaling), so a model and its pre/post-processing cannot drift apart, plus its record
(training data, metrics, provenance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.core.grasp import OutputScaling
from grasp_seg_ros.core.heightmap import HeightMapSpec
from grasp_seg_ros.core.preprocess import NETWORK_SIZE_PX, InputNormalisation
from grasp_seg_ros.nets.registry import get_model, list_models

METADATA_KEY = "grasp_seg_ros"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelMetadata:
    """What travels with a model's tensors."""

    architecture: str
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    input_size_px: int = NETWORK_SIZE_PX
    normalisation: InputNormalisation = InputNormalisation()
    scaling: OutputScaling = OutputScaling()
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: None: the input is a depth crop (core.preprocess); else a plane-aligned height map
    height_map: HeightMapSpec | None = None

    @property
    def input_kind(self) -> str:
        return "depth_crop" if self.height_map is None else "height_map"

    def to_json(self) -> str:
        extra = {} if self.height_map is None else {"height_map": self.height_map.to_dict()}
        return json.dumps({
            **extra,
            "format_version": FORMAT_VERSION,
            "architecture": self.architecture,
            "arch_kwargs": self.arch_kwargs,
            "input_size_px": self.input_size_px,
            "normalisation": self.normalisation.to_dict(),
            "scaling": self.scaling.to_dict(),
            "training": self.training,
            "metrics": self.metrics,
            "description": self.description,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        d = json.loads(text)
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {d.get('format_version')} != {FORMAT_VERSION}")
        return cls(architecture=d["architecture"], arch_kwargs=d.get("arch_kwargs", {}),
                   input_size_px=int(d["input_size_px"]),
                   normalisation=InputNormalisation.from_dict(d["normalisation"]),
                   scaling=OutputScaling.from_dict(d["scaling"]),
                   training=d.get("training", {}), metrics=d.get("metrics", {}),
                   description=d.get("description", ""),
                   height_map=HeightMapSpec.from_dict(d["height_map"])
                   if d.get("height_map") else None)


def save_weights(path: str | Path, model: torch.nn.Module, metadata: ModelMetadata) -> Path:
    """Write the model's state dict and metadata to a .safetensors file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={METADATA_KEY: metadata.to_json()})
    return path


def read_metadata(path: str | Path) -> ModelMetadata:
    """Read only the metadata of a weight file (cheap: no tensors are loaded)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file '{path}' does not exist; pass an existing "
                             f".safetensors file or a model name shipped in models/")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"model file '{path}' is not a readable safetensors file ({exc}); "
                             f"re-download or re-export it") from exc
    if raw is None:
        raise ModelFileError(f"model file '{path}' has no '{METADATA_KEY}' metadata; "
                             f"save it with grasp_seg_ros.nets.weights.save_weights")
    try:
        return ModelMetadata.from_json(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"model file '{path}' has unreadable metadata ({exc!r}); "
                             f"re-save it with this version of grasp_seg_ros") from exc


def load_weights(path: str | Path, *,
                 device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelMetadata]:
    """Build the model named in the file's metadata and load its tensors strictly."""
    path = Path(path)
    meta = read_metadata(path)
    try:
        model = get_model(meta.architecture, **meta.arch_kwargs)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"model file '{path}' names architecture '{meta.architecture}' "
                             f"with {meta.arch_kwargs}, which this version cannot build "
                             f"({exc}); registered: {list_models()}") from exc
    try:
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
        model.load_state_dict(tensors, strict=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"model file '{path}' does not match architecture "
                             f"'{meta.architecture}' or is corrupt: {exc}") from exc
    return model.to(device).eval(), meta
