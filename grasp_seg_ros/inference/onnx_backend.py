"""ONNX export of a weight file and an ONNX Runtime backend with the TorchBackend interface.

    grasp-seg export --model ggcnn --out models/ggcnn.onnx

The exported graph maps (N, 1, S, S) -> (N, 4, S, S) ("out"); the weight file's metadata
(normalisation, width scaling, architecture) is stored in the ONNX model's metadata_props, so
the ONNX file carries its pre/post-processing just as the .safetensors file does.

``inference_onnx`` exports a loaded network as the detector runs it (the exact rewrite of
nets.fast, fixed input size) for ``backend:=auto|onnxruntime``, once per weight file: the
graph is kept in ``~/.cache/grasp_seg_ros/onnx/`` under a name derived from the weight file's
bytes and the exporter's version, and re-exported when that file is missing or unreadable.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.core.resources import DEFAULT_MODEL, cache_dir, resolve_model
from grasp_seg_ros.nets.fast import optimise_for_inference
from grasp_seg_ros.nets.weights import METADATA_KEY, ModelMetadata, load_weights

LOG = logging.getLogger(__name__)
#: the opset the exporter implements natively (a lower one is converted, with a warning)
INFERENCE_OPSET = 18
#: part of a cached graph's name: bump when nets.fast changes what it exports
REWRITE_VERSION = 1
#: loggers of the exporter's passes, which report every pass at INFO
_EXPORTER_LOGGERS = ("onnx_ir", "onnxscript", "torch.onnx")


class _OutOnly(torch.nn.Module):
    """Exports the 'out' entry of a model's dict as a plain tensor output."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _export(model: torch.nn.Module, size: int, meta: ModelMetadata, *, opset: int,
            dynamic_batch: bool):
    """The ONNX ModelProto of ``model`` on (N, 1, size, size), with the metadata."""
    example = torch.zeros(1, 1, size, size)
    quiet = {name: logging.getLogger(name).level for name in _EXPORTER_LOGGERS}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        # the torch.export-based exporter (the TorchScript one is deprecated since torch 2.9)
        program = torch.onnx.export(
            _OutOnly(model).eval(), (example,), input_names=["depth"], output_names=["out"],
            opset_version=opset, dynamo=True, verbose=False,
            dynamic_shapes=({0: torch.export.Dim("batch", max=64)},) if dynamic_batch else None)
    finally:
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    return proto


def export_onnx(model_path: str | Path, out: Path, *, opset: int = 17) -> Path:
    """Write an ONNX file for a weight file, with its metadata; returns the path."""
    import onnx

    model, meta = load_weights(resolve_model(str(model_path)))
    proto = _export(model, meta.input_size_px, meta, opset=opset, dynamic_batch=True)
    onnx.checker.check_model(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    return out


def onnx_cache_dir() -> Path:
    """Where inference_onnx keeps the graphs it exports: $XDG_CACHE_HOME/grasp_seg_ros/onnx
    (~/.cache/... without it)."""
    return cache_dir("onnx")


def cached_onnx_path(model_path: Path, cache_dir: Path | None = None) -> Path:
    """Where inference_onnx keeps the graph of a weight file (in ``cache_dir``, default
    :func:`onnx_cache_dir`): named by a digest of the file's bytes, the torch version (the
    exporter) and REWRITE_VERSION, so a changed weight file or exporter never reads a stale
    graph."""
    cache_dir = onnx_cache_dir() if cache_dir is None else cache_dir
    digest = hashlib.sha256()
    digest.update(Path(model_path).read_bytes())
    digest.update(f"{torch.__version__}|{REWRITE_VERSION}|{INFERENCE_OPSET}".encode())
    return cache_dir / f"{Path(model_path).stem}-{digest.hexdigest()[:16]}.onnx"


def inference_onnx(model: torch.nn.Module, meta: ModelMetadata, model_path: Path, *,
                   num_threads: int = 1, cache_dir: Path | None = None) -> "OnnxBackend":
    """An OnnxBackend running ``model`` (loaded from ``model_path``) as the detector runs it:
    the nets.fast rewrite, exported once and kept in ``cache_dir`` (:func:`cached_onnx_path`).
    An unreadable cached graph is exported again; an unwritable cache only costs the export
    at every start. Raises the exporter's error when the model cannot be exported."""
    path = cached_onnx_path(model_path, cache_dir)
    if path.is_file():
        try:
            return OnnxBackend(path, num_threads=num_threads, metadata=meta)
        except ModelFileError as exc:
            LOG.warning("%s; exporting it again", exc)
    fast = optimise_for_inference(model.eval(), channels_last=False)
    data = _export(fast, meta.input_size_px, meta, opset=INFERENCE_OPSET,
                   dynamic_batch=False).SerializeToString()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as f:
            f.write(data)
        os.chmod(f.name, 0o644)   # as a plainly written file would be
        os.replace(f.name, path)   # whole or not at all, for a process starting beside it
        LOG.info("exported %s for ONNX Runtime to %s", Path(model_path).name, path)
    except OSError as exc:
        LOG.warning("cannot keep the exported graph in %s (%s); it is exported again at "
                    "every start", path.parent, exc)
    return OnnxBackend(data, num_threads=num_threads, metadata=meta)


class OnnxBackend:
    """ONNX Runtime on the CPU; same call as TorchBackend.

    ``source``: an .onnx file (made by grasp-seg export, carrying the model's metadata) or
    the bytes of a serialised graph; ``metadata`` given replaces what the graph carries.
    """

    name = "onnxruntime"
    #: why this runtime runs the model, when make_backend chose it (auto); else empty
    choice = ""

    def __init__(self, source: str | Path | bytes, *, num_threads: int = 1,
                 metadata: ModelMetadata | None = None) -> None:
        import onnxruntime as ort

        label = "exported graph" if isinstance(source, bytes) else f"ONNX file '{source}'"
        if not isinstance(source, bytes):
            source = Path(source)
            if not source.is_file():
                raise ModelFileError(f"ONNX file '{source}' does not exist; create it with "
                                     f"grasp-seg export --model <name> --out {source}")
        options = ort.SessionOptions()
        if num_threads > 0:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                source if isinstance(source, bytes) else str(source), options,
                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ModelFileError(f"{label} cannot be loaded ({exc}); re-export "
                                 f"it with grasp-seg export") from exc
        if metadata is None:
            props = self.session.get_modelmeta().custom_metadata_map
            if METADATA_KEY not in props:
                raise ModelFileError(f"{label} has no '{METADATA_KEY}' metadata; "
                                     f"export it with grasp-seg export")
            metadata = ModelMetadata.from_json(props[METADATA_KEY])
        self.metadata = metadata

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
