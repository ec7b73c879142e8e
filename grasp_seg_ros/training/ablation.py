"""One command for the model ablation table: train (or reuse) every row, evaluate, tabulate.

    grasp-seg ablation --config config/ablation.yaml [--rows ID ...] [--readme README.md]

For each row of the config, in order: train it from its recipe with the config's budget
(a rerun resumes an unfinished run and skips a finished one), or take the weight file the row
names, or a network-free predictor (``predictor: baseline`` or ``baseline_along``, the
known-bad control; ``baseline_heightmap`` and ``baseline_heightmap_along``, the same on the
height map; ``oracle``, the labelling trials' choice: the labels' own grasps; or ``search``,
grasps tried on a grid around each object until one holds: a ceiling; these two have no
probe); then measure the rectangle metric on the test split (unseen objects, when
the config names one), the angle probe (``probe``: closing-axis error, centres on the object
and width, over orientations, camera heights and tilts; sim.probe; ``shapes_probe``: the same
on L, T and V shapes, where the principal axis is not the answer), simulated grasp success
(``sim_eval``: every listed scenario x gripper profile x camera, with 95% intervals; with
``extra_seeds``, more blocks of ``trials`` attempts from those scene seeds, pooled in the
table's cells, by block in ablation.md, and with ``compare_to: ROW_ID`` each row's mean paired
difference from that row per cell and block, with its standard error), the
parameter count and the CPU inference latency (the node's optimised PyTorch path, median/p95
over --frames, one thread). A row may distil from an earlier row (``teacher: "@row_id"``);
``budget_note`` replaces the budget cell of a row whose file's metadata holds only its last
training stage. A network row may set the node's ``augment`` (test-time augmentation)
and ``quality_threshold`` (default: the node's). Results are cached per row
(``result.json``, keyed on the weight file and the evaluation settings) so an interrupted
run picks up where it stopped.

Writes, in the config's ``out`` folder: ablation.md (the table, with each row's budget),
ablation.json and ablation.png (accuracy against latency). ``--readme`` replaces the table
between the README's ``<!-- ablation:begin -->`` and ``<!-- ablation:end -->`` markers
(``readme_marker: NAME`` in the config: ``<!-- NAME:begin -->`` instead).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from grasp_seg_ros.inference.augment import check_augment_name
from grasp_seg_ros.sim.seeds import SEED_RANGES

LOG = logging.getLogger("grasp_seg_ros.ablation")

CONFIG_KEYS = {"name", "description", "out", "budget", "full_budget", "test", "test_depth",
               "sim_eval", "probe", "shapes_probe", "latency", "rows", "readme_marker"}
ROW_KEYS = {"id", "name", "recipe", "set", "weights", "teacher", "budget", "predictor",
            "budget_note", "augment", "quality_threshold"}
BEGIN, END = "<!-- ablation:begin -->", "<!-- ablation:end -->"


def load_config(path: Path, sets: list[str] = ()) -> dict:
    """Read and check an ablation config (unknown keys and duplicate row ids are errors)."""
    from grasp_seg_ros.training.recipe import apply_sets
    config = yaml.safe_load(Path(path).read_text()) or {}
    config = apply_sets(config, list(sets))
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(CONFIG_KEYS)}")
    config.setdefault("out", "runs/ablation")
    config.setdefault("budget", [])
    config.setdefault("test", None)
    config.setdefault("test_depth", "stereo")  # the depth the recipes train on
    config["sim_eval"] = {"scenarios": ["isolated", "clutter"], "trials": 50,
                          **(config.get("sim_eval") or {})}
    # each run: scenario x gripper profile x camera; the default is the old table's two
    config["sim_eval"].setdefault("runs", [
        {"scenario": s, "gripper": "legacy", "camera": "top"}
        for s in config["sim_eval"]["scenarios"]])
    from grasp_seg_ros.sim.evaluation import EVAL_CAMERAS, GRIPPERS, SCENARIOS
    from grasp_seg_ros.sim.probe import BASELINES, SCENE_REFERENCES
    predictors = (*BASELINES, *SCENE_REFERENCES)   # what sim.probe.make_predictor builds
    for run in config["sim_eval"]["runs"]:   # a typo fails here, not an hour into the trials
        for key, known in (("scenario", SCENARIOS), ("gripper", GRIPPERS),
                           ("camera", EVAL_CAMERAS)):
            if run.get(key) not in known:
                raise ValueError(f"{path}: sim_eval run {run}: {key} must be one of "
                                 f"{sorted(known)}")
    extra = config["sim_eval"].get("extra_seeds") or []
    held = SEED_RANGES["sim_eval"]   # never a training scene's seed
    if not isinstance(extra, list) or len(set(extra)) != len(extra) \
            or not all(type(x) is int and x in held for x in extra):
        raise ValueError(f"{path}: sim_eval.extra_seeds must be distinct scene seeds in the "
                         f"trials' range {held.start}..{held.stop - 1} (sim.seeds), got "
                         f"{extra!r}")
    for key in ("probe", "shapes_probe"):   # the primitives; the L, T and V shapes
        if config.get(key) is not None:
            config[key] = {"yaws": 12, "heights": [0.35, 0.6, 0.9],
                           "tilts": [0.0, 15.0, 30.0], "gripper": "robotiq_2f85",
                           **config[key]}
    config["latency"] = {"frames": 50, "threads": 1, **(config.get("latency") or {})}
    rows = config.get("rows") or []
    if not rows:
        raise ValueError(f"{path}: no rows")
    seen: set[str] = set()
    for row in rows:
        unknown = set(row) - ROW_KEYS
        if unknown:
            raise ValueError(f"{path}: row {row.get('id')!r} has unknown keys {sorted(unknown)}")
        if "id" not in row or not ({"recipe", "weights", "predictor"} & set(row)):
            raise ValueError(f"{path}: every row needs an id and a recipe, weights or "
                             f"predictor: {row}")
        if row.get("predictor") is not None and row["predictor"] not in predictors:
            raise ValueError(f"{path}: row {row['id']!r}: predictor must be one of "
                             f"{predictors}, got {row['predictor']!r}")
        if row["id"] in seen:
            raise ValueError(f"{path}: duplicate row id {row['id']!r}")
        if row.get("augment", "none") != "none":
            if row.get("predictor"):
                raise ValueError(f"{path}: row {row['id']!r}: augment needs a network row")
            try:
                check_augment_name(row["augment"])
            except ValueError as exc:
                raise ValueError(f"{path}: row {row['id']!r}: {exc}") from None
        if row.get("quality_threshold") is not None:
            q = row["quality_threshold"]
            if row.get("predictor"):
                raise ValueError(f"{path}: row {row['id']!r}: quality_threshold needs a "
                                 "network row")
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
                raise ValueError(f"{path}: row {row['id']!r}: quality_threshold must be a "
                                 f"number in [0, 1], got {q!r}")
        teacher = row.get("teacher")
        if teacher and teacher.startswith("@") and teacher[1:] not in seen:
            raise ValueError(f"{path}: row {row['id']!r} distils from {teacher}, which is not "
                             f"an earlier row")
        seen.add(row["id"])
        row.setdefault("name", row["id"])
    compare = config["sim_eval"].get("compare_to")
    if compare is not None and compare not in seen:
        raise ValueError(f"{path}: sim_eval.compare_to names {compare!r}, which is not a row")
    return config


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def budget_sets(row: dict, config: dict) -> list[str]:
    """The recipe overrides that bound a row's training: its own ``budget``, else the
    config's; none at all with ``full_budget: true`` (every recipe's own epochs)."""
    if config.get("full_budget"):
        return []
    return list(row["budget"] if "budget" in row else config["budget"])


def train_row(row: dict, config: dict, out: Path, weights_of: dict[str, Path]) -> Path:
    """The row's weight file: the one it names, or its recipe trained (resumed) under out."""
    from grasp_seg_ros.core.resources import resolve_model
    from grasp_seg_ros.training.recipe import load_recipe
    from grasp_seg_ros.training.run import RunSource, train
    if row.get("predictor"):
        return Path(row["predictor"])  # not a file: a network-free predictor's name
    if row.get("weights"):
        return resolve_model(str(row["weights"]))
    run_dir = out / row["id"]
    sets = [*budget_sets(row, config), *row.get("set", []), f"out={run_dir}"]
    if config.get("test"):
        sets.append(f"data.test={config['test']}")
    if row.get("teacher"):
        teacher = row["teacher"]
        teacher_path = weights_of[teacher[1:]] if teacher.startswith("@") else teacher
        sets.append(f"distill.teacher={teacher_path}")
    recipe = load_recipe(Path(row["recipe"]), sets)
    weights = run_dir / "model.safetensors"
    state = run_dir / "checkpoint.pt"
    done = weights.is_file() and state.is_file() and int(torch.load(
        state, map_location="cpu", weights_only=True)["epoch"]) >= recipe.train.epochs
    if done:
        LOG.info("%s: trained already (%s)", row["id"], weights)
    else:
        LOG.info("%s: training %s with %s", row["id"], row["recipe"], " ".join(sets))
        train(recipe, run_dir, RunSource(str(row["recipe"]), tuple(sets)))
    return weights


def cpu_latency_ms(weights: Path, frames: int, threads: int,
                   augment: str = "none") -> dict[str, float]:
    """Median and p95 of the optimised network on one input (CPU, `threads`), run on every
    view of the test-time ``augment``."""
    from grasp_seg_ros.inference.augment import augmented_forward
    from grasp_seg_ros.inference.backends import TorchBackend
    from grasp_seg_ros.nets.weights import load_weights
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, meta = load_weights(weights)
        backend = TorchBackend(model, torch.device("cpu"))
        x = np.random.default_rng(0).normal(0, 0.02, (meta.input_size_px,) * 2)
        x = x.astype(np.float32)
        for _ in range(3):
            augmented_forward(backend, x, meta.scaling, augment)
        times = []
        for _ in range(frames):
            t0 = time.perf_counter()
            augmented_forward(backend, x, meta.scaling, augment)
            times.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(previous)
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95))}


def _run_label(run: dict) -> str:
    return f"{run['scenario']}/{run['gripper']}/{run['camera']}"


def evaluate_row(row: dict, weights: Path, config: dict, out: Path) -> dict:
    """Everything the table shows for one row (cached in out/<id>/result.json)."""
    from grasp_seg_ros.sim.evaluation import (EVAL_SEED_OFFSET, run_sim_eval,
                                              summarise_attempts)
    from grasp_seg_ros.sim.probe import (OBJECT_SETS, ProbeCamera, make_predictor, run_probe,
                                         summarise_probe)
    network = not row.get("predictor")
    augment = row.get("augment", "none")
    digest = _digest(weights) if network else row["predictor"]
    if augment != "none":   # other rows keep their cache keys
        digest = f"{digest} augment={augment}"
    threshold = row.get("quality_threshold")
    if threshold is not None:
        digest = f"{digest} quality_threshold={float(threshold):g}"
    # the first block keeps the key it had before extra_seeds existed; each extra block is a
    # part of its own, so adding seeds measures only the new blocks
    block = {k: v for k, v in config["sim_eval"].items()
             if k not in ("extra_seeds", "compare_to")}
    settings = {"sim_eval": {"weights": digest, **block}}
    for seed in config["sim_eval"].get("extra_seeds") or []:
        settings[f"sim_eval@{seed}"] = {"weights": digest, **block, "seed": seed}
    if network:
        settings["latency"] = {"weights": digest, **config["latency"]}
        if config.get("test"):
            settings["test"] = {"weights": digest, "data": config.get("test"),
                                "depth": config["test_depth"]}
    from grasp_seg_ros.sim.probe import SCENE_REFERENCES
    for key in ("probe", "shapes_probe"):
        # the references that try grasps in the scene have no probe
        if config.get(key) and row.get("predictor") not in SCENE_REFERENCES:
            settings[key] = {"weights": digest, **config[key]}
    cache = out / row["id"] / "result.json"
    cached = json.loads(cache.read_text()) if cache.is_file() else {}
    fresh = {part for part in settings
             if cached.get("settings", {}).get(part) == settings[part] and part in cached}
    if fresh == set(settings):
        LOG.info("%s: evaluated already (%s)", row["id"], cache)
        return {**cached, "name": row["name"]}   # a name is the config's, not a measurement
    result: dict[str, Any] = {"id": row["id"], "name": row["name"], "weights": str(weights),
                              "settings": settings}
    if network:
        from grasp_seg_ros.nets.weights import load_weights
        model, meta = load_weights(weights)
        result.update({"architecture": meta.architecture, "arch_kwargs": meta.arch_kwargs,
                       "params": sum(p.numel() for p in model.parameters()),
                       "training": meta.training})
    else:
        model = None
        result.update({"architecture": row["predictor"], "params": 0, "training": {}})
    result.update({part: cached[part] for part in fresh})   # measured before, same settings
    if "test" in settings and "test" not in fresh:
        from grasp_seg_ros.training.datasets import GraspDataset, load_samples
        from grasp_seg_ros.training.metric import rectangle_metric
        samples = load_samples("synthetic", Path(config["test"]), depth=config["test_depth"])
        result["test"] = rectangle_metric(model, GraspDataset(samples), top_k=(1, 5))
    cache.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every part: an interrupted row keeps what it measured
        cache.write_text(json.dumps(result, indent=2, default=float))

    predictor, _ = make_predictor(str(weights) if network else row["predictor"], augment,
                                  None if threshold is None else float(threshold))
    for key, objects in (("probe", "primitives"), ("shapes_probe", "shapes")):
        if key not in settings or key in fresh:
            continue
        pc = config[key]
        cameras = tuple(ProbeCamera(float(h), float(t))
                        for h in pc["heights"] for t in pc["tilts"])
        views = run_probe(predictor, objects=OBJECT_SETS[objects], cameras=cameras,
                          yaws=int(pc["yaws"]), gripper=pc["gripper"])
        result[key] = summarise_probe(views)
        save()
    for part in [p for p in settings if p.startswith("sim_eval") and p not in fresh]:
        seed = settings[part].get("seed", EVAL_SEED_OFFSET)
        result[part] = {}
        for run in config["sim_eval"]["runs"]:
            attempts = run_sim_eval(predictor, scenario=run["scenario"],
                                    trials=int(config["sim_eval"]["trials"]),
                                    gripper=run["gripper"], camera=run["camera"], seed=seed)
            s = summarise_attempts(attempts)
            result[part][_run_label(run)] = {
                k: s[k] for k in ("attempts", "successes", "success_rate", "ci95_wilson")}
        save()
    if "latency" in settings and "latency" not in fresh:
        result["latency"] = cpu_latency_ms(weights, int(config["latency"]["frames"]),
                                           int(config["latency"]["threads"]), augment)
    save()
    return result


def _budget(training: dict) -> str:
    epochs, seconds = training.get("epochs"), training.get("train_seconds")
    parts = []
    if epochs is not None:
        parts.append(f"{epochs} ep x {training.get('train_samples', '?')} img")
    if seconds is not None:
        procs = int(training.get("processes", 1))
        parts.append(f"{float(seconds) / 60:.0f} min on {training.get('device', '?')}"
                     + (f", {procs} processes" if procs > 1 else ""))
    if training.get("distilled_from"):
        parts.append(f"kd {training.get('kd_weight')}"
                     + (f", hint {training['feature_weight']}"
                        if training.get("feature_weight") else ""))
    return "; ".join(parts) or "see its card"


def _pct(test: dict | None, key: str) -> str:
    if not test or key not in test:
        return "-"
    n = test.get("samples")
    return f"{100 * test[key]:.1f}%" + (f" ({round(test[key] * n)}/{n})" if n else "")


def _sim_cell(e: dict | None) -> str:
    if e is None:
        return "-"
    lo, hi = e["ci95_wilson"]
    return f"{e['successes']}/{e['attempts']} ({100 * lo:.0f}-{100 * hi:.0f}%)"


def sim_blocks(result: dict, config: dict) -> list[dict]:
    """A row's sim-eval blocks, the first block's seeds first, then extra_seeds' in order."""
    parts = ["sim_eval", *(f"sim_eval@{s}" for s in config["sim_eval"].get("extra_seeds") or [])]
    return [result.get(p, {}) for p in parts]


def pooled_sim(result: dict, config: dict, label: str) -> dict | None:
    """One cell's attempts pooled over every block (None unless every block measured it)."""
    from grasp_seg_ros.sim.evaluation import wilson_interval
    cells = [b.get(label) for b in sim_blocks(result, config)]
    if any(c is None for c in cells):
        return None
    k, n = sum(c["successes"] for c in cells), sum(c["attempts"] for c in cells)
    return {"successes": k, "attempts": n, "success_rate": k / n if n else float("nan"),
            "ci95_wilson": list(wilson_interval(k, n))}


def paired_difference(result: dict, reference: dict, config: dict) -> dict | None:
    """Mean difference in success rate (points) from ``reference`` over every cell and
    block both measured, with its standard error (the cell-blocks' spread / sqrt(count))."""
    diffs = []
    for mine, theirs in zip(sim_blocks(result, config), sim_blocks(reference, config)):
        for label, cell in mine.items():
            if label in theirs:
                diffs.append(100 * (cell["success_rate"] - theirs[label]["success_rate"]))
    if len(diffs) < 2:
        return None
    d = np.asarray(diffs)
    return {"mean_points": float(d.mean()), "se_points": float(d.std(ddof=1) / np.sqrt(len(d))),
            "cell_blocks": len(d), "ahead": int((d > 0).sum()), "behind": int((d < 0).sum())}


def blocks_section(results: list[dict], config: dict) -> str:
    """The blocks table with a line that says what it holds ("" without extra_seeds)."""
    seeds = config["sim_eval"].get("extra_seeds") or []
    if not seeds:
        return ""
    return (f"\nSuccesses per block of {config['sim_eval']['trials']} attempts (the first "
            f"block's seeds, then from {', '.join(map(str, seeds))}; the table above pools "
            f"them):\n\n" + render_blocks_table(results, config))


def render_blocks_table(results: list[dict], config: dict) -> str:
    """Successes per cell, block by block (first/second/...), their totals, and each row's
    paired difference from ``sim_eval.compare_to``."""
    runs = [_run_label(r) for r in config["sim_eval"]["runs"]]
    compare = config["sim_eval"].get("compare_to")
    reference = next((r for r in results if r["id"] == compare), None)
    head = ["model", *runs, "all cells"]
    if reference is not None:
        head.append(f"against {reference['name']}: mean points per cell-block (SE); "
                    "ahead/behind")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        blocks = sim_blocks(r, config)
        cells = [r["name"]]
        for label in runs:
            cells.append("/".join(str(b[label]["successes"]) if label in b else "-"
                                  for b in blocks))
        cells.append("/".join(str(sum(c["successes"] for c in b.values())) for b in blocks))
        if reference is not None:
            d = None if r is reference else paired_difference(r, reference, config)
            cells.append("-" if d is None else
                         f"{d['mean_points']:+.1f} ({d['se_points']:.1f}); "
                         f"{d['ahead']}/{d['behind']} of {d['cell_blocks']}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_table(results: list[dict], config: dict) -> str:
    runs = [_run_label(r) for r in config["sim_eval"]["runs"]]
    lat = config["latency"]
    with_test = bool(config.get("test"))
    with_probe = bool(config.get("probe"))
    head = ["model", "params", "budget (epochs x images; train time, device)"]
    if with_test:
        head += ["test top-1", "test top-5"]
    if with_probe:
        head += ["probe: median axis error", "within 20 deg", "on object",
                 "width within 1.5 cm"]
    head += [f"sim {r}" for r in runs]
    head += [f"CPU latency ms ({lat['threads']} thread) median/p95"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        cells = [r["name"], f"{r['params'] / 1e6:.2f} M" if r["params"] else "-",
                 r.get("budget_note")
                 or (_budget(r["training"]) if r.get("training") else "-")]
        if with_test:
            cells += [_pct(r.get("test"), "top1_accuracy"), _pct(r.get("test"), "top5_accuracy")]
        if with_probe:
            o = (r.get("probe") or {}).get("overall")
            cells += ["-"] * 4 if o is None else [
                f"{o['median_error_deg']:.1f} deg", f"{100 * o['within_20deg']:.0f}%",
                f"{100 * o['on_object']:.0f}%", f"{100 * o['width_within_1p5cm']:.0f}%"]
        cells += [_sim_cell(pooled_sim(r, config, run)) for run in runs]
        latency = r.get("latency")
        cells.append("-" if latency is None else
                     f"{latency['median_ms']:.1f} / {latency['p95_ms']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_probe_table(results: list[dict], key: str, probe: str = "probe") -> str:
    """Median closing-axis error (and share within 20 deg) of every row, by object or by
    camera (``key``: a group of sim.probe.summarise_probe; ``probe``: 'probe' or
    'shapes_probe')."""
    rows = [r for r in results if r.get(probe)]
    if not rows:
        return ""
    groups = list(rows[0][probe][key])
    lines = ["| model | " + " | ".join(groups) + " |", "|" + " --- |" * (len(groups) + 1)]
    for r in rows:
        g = r[probe][key]
        lines.append(f"| {r['name']} | " + " | ".join(
            f"{g[k]['median_error_deg']:.0f} ({100 * g[k]['within_20deg']:.0f}%)"
            if k in g else "-" for k in groups) + " |")
    return "\n".join(lines) + "\n"


def shapes_section(results: list[dict], config: dict) -> str:
    """The probe on L, T and V shapes: overall, then by shape ("" without shapes_probe)."""
    rows = [r for r in results if r.get("shapes_probe")]
    if not config.get("shapes_probe") or not rows:
        return ""
    shapes = list(rows[0]["shapes_probe"]["by_object"])
    head = ["model", "median axis error", "within 20 deg", "on object", "width within 1.5 cm",
            *(f"{s}: median (within 20)" for s in shapes)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        o, g = r["shapes_probe"]["overall"], r["shapes_probe"]["by_object"]
        lines.append("| " + " | ".join([
            r["name"], f"{o['median_error_deg']:.1f} deg", f"{100 * o['within_20deg']:.0f}%",
            f"{100 * o['on_object']:.0f}%", f"{100 * o['width_within_1p5cm']:.0f}%",
            *(f"{g[s]['median_error_deg']:.0f} ({100 * g[s]['within_20deg']:.0f}%)"
              if s in g else "-" for s in shapes)]) + " |")
    views = rows[0]["shapes_probe"]["overall"]["views"]
    return (f"\nThe angle probe on L, T and V shapes ({views} views per row; the right "
            "directions are the narrowest cuts through the grasp centre, a centre off the "
            "object counts as 90 deg; sim.probe):\n\n" + "\n".join(lines) + "\n")


def plot(results: list[dict], path: Path) -> None:
    """Top-1 against CPU latency; points are numbered, names in the legend (close points
    would overlap as text labels)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    fig, ax = plt.subplots(figsize=(9, 4.8))
    number = 0
    for r in results:
        top1 = (r.get("test") or {}).get("top1_accuracy")
        if top1 is None or r.get("latency") is None:
            continue
        number += 1
        x, y = r["latency"]["median_ms"], 100 * top1
        ax.scatter(x, y, s=30 + r["params"] / 2e5, label=f"{number}  {r['name']}")
        ax.annotate(str(number), (x, y), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("CPU inference latency, median (ms, log scale)")
    ax.set_ylabel("rectangle metric top-1 on unseen objects (%)")
    ax.set_title("accuracy against latency (marker size: parameters)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(readme: Path, table: str, marker: str = "ablation") -> None:
    """Replace what stands between ``<!-- marker:begin -->`` and ``<!-- marker:end -->``."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{readme} has no {begin} ... {end} markers to put the table between")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{table}{end}{tail}")


def run(config: dict, rows: list[str] | None = None) -> list[dict]:
    out = Path(os.path.expanduser(str(config["out"])))
    out.mkdir(parents=True, exist_ok=True)
    weights_of: dict[str, Path] = {}
    results = []
    for row in config["rows"]:
        if rows and row["id"] not in rows:  # a later row may still distil from it
            weights_of[row["id"]] = Path(row["weights"]) if row.get("weights") \
                else out / row["id"] / "model.safetensors"
            continue
        weights = train_row(row, config, out, weights_of)
        weights_of[row["id"]] = weights
        result = evaluate_row(row, weights, config, out)
        if row.get("budget_note"):   # a shipped file's training, told by the config
            result = {**result, "budget_note": str(row["budget_note"])}
        results.append(result)
    table = render_table(results, config)
    extra = ""
    if config["sim_eval"].get("extra_seeds"):
        extra += "\n## Sim trials by block of seeds\n" + blocks_section(results, config)
    if config.get("shapes_probe"):
        extra += ("\n## Angle probe on shapes\n" + shapes_section(results, config)
                  + "\n## Angle probe on shapes by camera (height m, tilt deg)\n\n"
                  + render_probe_table(results, "by_camera", "shapes_probe"))
    if config.get("probe"):
        extra += ("\n## Angle probe by object: median closing-axis error in deg (share within "
                  "20 deg)\n\n" + render_probe_table(results, "by_object")
                  + "\n## Angle probe by camera (height m, tilt deg)\n\n"
                  + render_probe_table(results, "by_camera"))
    (out / "ablation.md").write_text(
        f"# {config.get('name', 'ablation')}\n\n{config.get('description', '')}\n\n{table}"
        f"{extra}")
    (out / "ablation.json").write_text(json.dumps(results, indent=2, default=float))
    if any((r.get("test") or {}).get("top1_accuracy") is not None for r in results):
        plot(results, out / "ablation.png")
    LOG.info("wrote %s, ablation.json and ablation.png:\n%s", out / "ablation.md", table)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="grasp-seg ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("config/ablation.yaml"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. sim_eval.trials=100 (repeatable)")
    p.add_argument("--rows", nargs="+", help="only these row ids (teachers must be included)")
    p.add_argument("--readme", type=Path, help="put the table between this file's markers")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s[%(process)d]: %(message)s")
    config = load_config(args.config, args.set)
    results = run(config, args.rows)
    if args.readme:
        update_readme(args.readme, render_table(results, config)
                      + blocks_section(results, config) + shapes_section(results, config),
                      config.get("readme_marker", "ablation"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
