"""Recipe runs end to end on a tiny dataset: outputs, exact resume, two processes, metric."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from grasp_seg_ros.nets import get_model, list_models
from grasp_seg_ros.nets.weights import load_weights, read_metadata
from grasp_seg_ros.training.datasets import GraspDataset, load_samples
from grasp_seg_ros.training.metric import rectangle_metric
from grasp_seg_ros.training.recipe import load_recipe
from grasp_seg_ros.training.run import train
from tiny_data import make_jacquard

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    make_jacquard(root / "train", 8, seed=0)
    make_jacquard(root / "test", 3, seed=1)
    return root


def tiny_recipe(data, **train):
    sets = [f"data.train={data / 'train'}", f"data.test={data / 'test'}",
            "data.val_fraction=0.25", "train.batch_size=2", "train.epochs=2",
            "train.max_steps_per_epoch=2", "train.threads=1", "eval.plot_images=1"]
    sets += [f"train.{k}={v}" for k, v in train.items()]
    return load_recipe(ROOT / "config" / "train" / "ggcnn_synthetic.yaml", sets)


def test_shipped_recipes_load():
    for path in sorted((ROOT / "config" / "train").glob("*.yaml")):
        recipe = load_recipe(path)
        assert recipe.model.arch in list_models(), path
        get_model(recipe.model.arch, **recipe.model.kwargs)   # builds


def test_unknown_recipe_key_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: 1, learning_rate: 0.1}\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_recipe(bad)


def test_recipe_values_are_typed_and_checked(tmp_path):
    from grasp_seg_ros.training.recipe import Recipe
    recipe = load_recipe(ROOT / "config" / "train" / "ggcnn2_heightmap.yaml",
                         ["train.lr=1e-3", "train.epochs=3.0", "augmentation.zoom=[0.5, 1]"])
    assert recipe.train.lr == 0.001 and isinstance(recipe.train.lr, float)  # YAML: a string
    assert recipe.train.epochs == 3 and isinstance(recipe.train.epochs, int)
    assert recipe.augmentation.zoom == (0.5, 1.0)
    assert recipe.data.height_map.size_px == 224 and recipe.model_kwargs()["angle_bins"] == 12
    grid = recipe.grid_augmentation()
    assert (grid.rotation_deg, grid.mirror, grid.max_shift_px) == (180.0, True, 20)
    # what a run folder records reads back as the same recipe
    assert Recipe.from_dict(yaml.safe_load(yaml.safe_dump(recipe.to_dict()))) == recipe
    for sets, message in ((["train.epochs=2.5"], "train.epochs must be int"),
                          (["train.optimizer=rmsprop"], "train.optimizer must be one of"),
                          (["data.centre_on_grasps=1"], "data.centre_on_grasps must be bool"),
                          (["augmentation.zoom=[0.5]"], "augmentation.zoom must have 2"),
                          (["data.height_map.size_px=30"], "multiple of 4"),
                          (["train.lr=.nan"], "train.lr must be finite"),
                          (["data.kind=synthetic"], "set data.kind to 'graded'"),
                          (["model.kwargs.angle_bins=8"], "!= data.angle_bins 12"),
                          (["train=3"], "'train' must be a mapping")):
        with pytest.raises(ValueError, match=message):
            load_recipe(ROOT / "config" / "train" / "ggcnn2_heightmap.yaml", sets)
    assert load_recipe(None).augmentation is not None
    assert load_recipe(None, ["augmentation=null"]).grid_augmentation() is None


def test_run_writes_everything_and_resumes_exactly(data, tmp_path):
    full = tmp_path / "full"
    metrics = train(tiny_recipe(data), full)
    for name in ("recipe.yaml", "metrics.csv", "losses.png", "checkpoint.pt",
                 "model.safetensors", "model.md", "metrics.json",
                 "predictions/epoch_001.png", "predictions/epoch_002.png"):
        assert (full / name).is_file(), name
    assert list((full / "tensorboard").iterdir())
    recorded = yaml.safe_load((full / "recipe.yaml").read_text())
    assert recorded["git_commit"] and recorded["train"]["epochs"] == 2
    meta = read_metadata(full / "model.safetensors")
    assert meta.training["epochs"] == 2 and "grasp-seg train --recipe" in \
        meta.training["command"]
    assert "test" in metrics and metrics["test"]["samples"] == 3
    assert "top1_accuracy" in (full / "model.md").read_text()
    history = json.loads((full / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]

    # the same run in two slices: one epoch, then a resume from the checkpoint
    sliced = tmp_path / "sliced"
    train(_one_epoch_then_stop(data, sliced), sliced)
    a, _ = load_weights(full / "model.safetensors")
    b, _ = load_weights(sliced / "model.safetensors")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def _one_epoch_then_stop(data, out):
    """Run epoch 1 of a 2-epoch schedule and stop, as a run killed after its first epoch
    (the barrier at the end of each epoch raises the first time); returns the recipe."""
    recipe = tiny_recipe(data)
    from grasp_seg_ros.training import run as run_module
    original = run_module.Distributed.barrier
    calls = {"n": 0}

    class Stop(Exception):
        pass

    def barrier(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise Stop
        return original(self)

    run_module.Distributed.barrier = barrier
    try:
        with pytest.raises(Stop):
            train(recipe, out)
    finally:
        run_module.Distributed.barrier = original
    assert (out / "checkpoint.pt").is_file() and not (out / "model.safetensors").exists()
    return recipe


def test_a_run_starts_from_another_runs_weights_or_says_why_not(data, tmp_path):
    first = tmp_path / "first"
    train(tiny_recipe(data), first)
    weights = first / "model.safetensors"
    # no step moves the weights at lr 0: the second run's model is the file it started from
    second = tmp_path / "second"
    recipe = tiny_recipe(data, lr=0.0)
    recipe.model.init = str(weights)
    train(recipe, second)
    a, _ = load_weights(weights)
    b, meta = load_weights(second / "model.safetensors")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    assert meta.training["init"] == str(weights)
    other = tiny_recipe(data)
    other.model.arch = "ggcnn2"
    other.model.init = str(weights)
    with pytest.raises(ValueError, match="does not fit"):
        train(other, tmp_path / "other")


def test_warmup_rises_linearly_then_decays_and_resumes():
    from grasp_seg_ros.training.recipe import TrainRecipe
    from grasp_seg_ros.training.run import make_schedule
    t = TrainRecipe(schedule="poly", poly_power=0.9, warmup_steps=5)

    def run(steps, opt, sched):
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return lrs

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.01, momentum=0.9)
    lrs = run(20, opt, make_schedule(opt, t, 20))
    assert lrs[:6] == pytest.approx([0.002, 0.0036, 0.0052, 0.0068, 0.0084, 0.01])
    assert all(a > b for a, b in zip(lrs[5:], lrs[6:])) and lrs[-1] < 0.001
    # a checkpoint continues the same sequence, warmup included (train()'s order: build the
    # optimiser and schedule, then load both states)
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01, momentum=0.9)
    first = make_schedule(opt2, t, 20)
    head = run(3, opt2, first)
    opt3 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01, momentum=0.9)
    resumed = make_schedule(opt3, t, 20)
    opt3.load_state_dict(opt2.state_dict())
    resumed.load_state_dict(first.state_dict())
    assert head + run(17, opt3, resumed) == pytest.approx(lrs)
    with pytest.raises(ValueError, match="warmup_steps"):
        make_schedule(opt, t, 5)


def test_gradient_clipping_bounds_every_step(data, tmp_path):
    """SGD without momentum moves the weights by at most lr x clip per step."""
    def change(out, **train_opts):
        recipe = tiny_recipe(data, optimizer="sgd", momentum=0.0, weight_decay=0.0, lr=0.05,
                             **train_opts)
        torch.manual_seed(recipe.train.seed)   # as train() does before building
        from grasp_seg_ros.training.run import build_datasets
        build_datasets(recipe)
        start = get_model(recipe.model.arch, **recipe.model.kwargs).state_dict()
        train(recipe, out)
        end, meta = load_weights(out / "model.safetensors")
        delta = torch.cat([(end.state_dict()[k] - v).flatten() for k, v in start.items()])
        return float(delta.norm()), meta

    free, _ = change(tmp_path / "free")
    clipped, meta = change(tmp_path / "clipped", grad_clip=1e-4)
    steps = 4   # 2 epochs x 2 steps
    assert clipped <= 0.05 * 1e-4 * steps * 1.001
    assert free > 100 * clipped
    assert "gradient norm clipped at 0.0001" in meta.training["optimiser"]


def test_loss_falls_on_a_fixed_batch(data):
    from grasp_seg_ros.nets import get_model
    from grasp_seg_ros.training.losses import grasp_map_losses, total_loss
    torch.manual_seed(0)
    ds = GraspDataset(load_samples("synthetic", data / "train"))
    x = torch.from_numpy(np.stack([ds.example(i)[0] for i in range(4)]))
    y = torch.from_numpy(np.stack([ds.example(i)[1] for i in range(4)]))
    model = get_model("ggcnn")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = total_loss(grasp_map_losses(model(x)["out"], y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


class PerfectModel(torch.nn.Module):
    """Answers every input with its own ground-truth maps (looked up by the input)."""

    def __init__(self, ds):
        super().__init__()
        self.table = [(ds.example(i)[0], ds.example(i)[1]) for i in range(len(ds))]

    def forward(self, x):
        out = []
        for xi in x.numpy():
            target = next(t for inp, t in self.table if np.array_equal(inp, xi))
            out.append(torch.from_numpy(target))
        return {"out": torch.stack(out)}


def test_metric_is_perfect_for_ground_truth_maps(data):
    ds = GraspDataset(load_samples("synthetic", data / "test"))
    result = rectangle_metric(PerfectModel(ds), ds, top_k=(1,), progress=False)
    assert result["samples"] == 3 and result["top1_accuracy"] == 1.0


def test_two_process_distributed_run(data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(29500 + os.getpid() % 1000),
           "-m", "grasp_seg_ros.training.run",
           "--recipe", str(ROOT / "config" / "train" / "ggcnn_synthetic.yaml"),
           "--set", f"data.train={data / 'train'}", "--set", "data.test=null",
           "--set", "data.val_fraction=0.25",
           "--set", "train.batch_size=2", "--set", "train.epochs=1",
           "--set", "train.num_workers=0", "--set", "train.threads=1",
           "--set", "eval.plot_images=1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    recorded = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recorded["world_size"] == 2
    meta = read_metadata(out / "model.safetensors")
    assert meta.training["processes"] == 2
    # 6 training images, 2 processes, batches of 2: one step each per epoch
    assert "1 steps/epoch" in proc.stderr
