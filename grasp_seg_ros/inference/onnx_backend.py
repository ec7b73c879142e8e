"""ONNX export of a weight file and an ONNX Runtime backend with the TorchBackend interface.

    grasp-seg export --model ggcnn --out models/ggcnn.onnx

The exported graph maps (N, 1, S, S) -> (N, 4, S, S) ("out"); the weight file's metadata
(normalisation, width scaling, architecture) is stored in the ONNX model's metadata_props, so
the ONNX file carries its pre/post-processing just as the .safetensors file does.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.core.resources import DEFAULT_MODEL, resolve_model
from grasp_seg_ros.nets.weights import METADATA_KEY, ModelMetadata, load_weights

LOG = logging.getLogger(__name__)


class _OutOnly(torch.nn.Module):
    """Exports the 'out' entry of a model's dict as a plain tensor output."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def export_onnx(model_path: str | Path, out: Path, *, opset: int = 17) -> Path:
    """Write an ONNX file for a weight file, with its metadata; returns the path."""
    import onnx

    model, meta = load_weights(resolve_model(str(model_path)))
    size = meta.input_size_px
    example = torch.zeros(1, 1, size, size)
    out.parent.mkdir(parents=True, exist_ok=True)
    # the torch.export-based exporter (the TorchScript one is deprecated since torch 2.9)
    program = torch.onnx.export(_OutOnly(model).eval(), (example,), input_names=["depth"],
                                output_names=["out"], opset_version=opset, dynamo=True,
                                dynamic_shapes=({0: torch.export.Dim("batch", max=64)},))
    program.save(str(out))
    proto = onnx.load(str(out))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    return out


class OnnxBackend:
    """ONNX Runtime on the CPU; same call as TorchBackend."""

    name = "onnxruntime"

    def __init__(self, path: str | Path, *, num_threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"ONNX file '{path}' does not exist; create it with "
                                 f"grasp-seg export --model <name> --out {path}")
        options = ort.SessionOptions()
        if num_threads > 0:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ModelFileError(f"ONNX file '{path}' cannot be loaded ({exc}); re-export "
                                 f"it with grasp-seg export") from exc
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ModelFileError(f"ONNX file '{path}' has no '{METADATA_KEY}' metadata; "
                                 f"export it with grasp-seg export")
        self.metadata = ModelMetadata.from_json(props[METADATA_KEY])

    def __call__(self, net_input: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(net_input, np.float32)[None, None]
        return self.session.run(["out"], {"depth": x})[0][0]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--opset", type=int, default=17)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    LOG.info("wrote %s", export_onnx(args.model, args.out, opset=args.opset))


if __name__ == "__main__":
    main()
