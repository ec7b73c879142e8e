"""Model cards written from a weight file's own metadata, so the two cannot disagree.

    python -m grasp_seg_ros.training.model_card models/ggcnn.safetensors \
        [--metrics-json eval.json]   # merge evaluation results into the file's metadata first
        [--half]                     # store floating-point tensors as float16 (half the size)
        [--note KEY=TEXT ...]        # add notes to the training table (budget, provenance)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

from grasp_seg_ros.nets.weights import METADATA_KEY, ModelMetadata, read_metadata


def update_metrics(path: Path, metrics: dict, *, training: dict | None = None) -> ModelMetadata:
    """Merge ``metrics`` (and ``training`` notes) into a weight file's metadata (tensors are
    rewritten unchanged)."""
    meta = read_metadata(path)
    meta = replace(meta, metrics={**meta.metrics, **metrics},
                   training={**meta.training, **(training or {})})
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, str(path), metadata={METADATA_KEY: meta.to_json()})
    return meta


def store_half(path: Path) -> None:
    """Re-save a weight file's floating-point tensors as float16 (metadata kept; loading casts
    them back to the model's float32 parameters). Halves large files such as PSPNet's."""
    import torch
    meta = read_metadata(path)
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    meta = replace(meta, training={**meta.training, "stored_as": str(torch.float16)})
    save_file(tensors, str(path), metadata={METADATA_KEY: meta.to_json()})


def render_card(path: Path, meta: ModelMetadata, n_params: int) -> str:
    training = "\n".join(f"| {k} | {v} |" for k, v in sorted(meta.training.items())
                         if k != "command")
    metrics = "\n".join(f"| {k} | {json.dumps(v) if isinstance(v, dict) else v} |"
                        for k, v in sorted(meta.metrics.items()))
    norm, scaling = meta.normalisation.to_dict(), meta.scaling.to_dict()
    size = meta.input_size_px
    if meta.height_map is not None:
        hm = meta.height_map
        inputs = (f"plane-aligned height map, {hm.size_px}x{hm.size_px} cells of "
                  f"{hm.resolution_m * 1e3:g} mm ({hm.extent_m:.3g} m square), "
                  f"normalisation `{norm}`")
    else:
        inputs = f"{size}x{size} depth crop, normalisation `{norm}`"
    bins = meta.scaling.angle_bins
    outputs = (f"quality per closing direction ({bins} bins of {180 / bins:g}°), width"
               if bins else "quality, cos 2θ, sin 2θ, width")
    return f"""# {path.stem}

{meta.description}

| | |
| --- | --- |
| architecture | `{meta.architecture}` ({n_params:,} parameters) |
| file | `{path.name}` (safetensors; metadata key `{METADATA_KEY}`) |
| input | {inputs} |
| output | {outputs}; width scaling `{scaling}` |

## Training

| | |
| --- | --- |
{training}

Command:

    {meta.training.get("command", "not recorded")}

## Metrics

| metric | value |
| --- | --- |
{metrics}

Only what is listed here was measured. Labels and test scenes are simulated (see the metric
entries for how); no number here says how the model does on real objects.
"""


def write_model_card(path: Path) -> Path:
    from grasp_seg_ros.nets.weights import load_weights
    model, meta = load_weights(path)
    card = path.with_suffix(".md")
    card.write_text(render_card(path, meta, sum(p.numel() for p in model.parameters())))
    return card


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", type=Path)
    p.add_argument("--metrics-json", type=Path, action="append", default=[],
                   help="evaluation result(s) to merge into the metadata first")
    p.add_argument("--half", action="store_true",
                   help="store floating-point tensors as float16 (half the file size)")
    p.add_argument("--note", action="append", default=[], metavar="KEY=TEXT",
                   help="a note for the card's training table (repeatable)")
    args = p.parse_args(argv)
    if not args.weights.is_file():
        p.error(f"{args.weights} does not exist")
    notes = {}
    for item in args.note:
        key, sep, text = item.partition("=")
        if not sep or not key:
            p.error(f"--note expects KEY=TEXT, got {item!r}")
        notes[key] = text
    for result_path in args.metrics_json:
        result = json.loads(result_path.read_text())
        update_metrics(args.weights, {f"rectangle_top{result['top_k']}_sim_test": result})
    if notes:
        update_metrics(args.weights, {}, training=notes)
    if args.half:
        store_half(args.weights)
    write_model_card(args.weights)


if __name__ == "__main__":
    main()
