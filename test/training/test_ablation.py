"""The ablation command end to end on a tiny dataset: trains rows (one distilled from another),
evaluates with the real simulator, writes the table, and reuses finished rows on a rerun."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from grasp_seg_ros.core.grasp import DecodeParams
from grasp_seg_ros.nets.weights import load_weights
from grasp_seg_ros.training.ablation import BEGIN, END, load_config, main, update_readme
from tiny_data import make_jacquard

ROOT = Path(__file__).resolve().parents[2]
RECIPE = str(ROOT / "config" / "train" / "ggcnn_synthetic.yaml")
TINY = ["data.val_fraction=0.25", "train.batch_size=2", "train.epochs=1",
        "train.max_steps_per_epoch=1", "train.threads=1", "eval.plot_images=1"]


def write_config(tmp_path, data, rows):
    config = {"name": "tiny", "out": str(tmp_path / "runs"), "test": str(data / "test"),
              "budget": [f"data.train={data / 'train'}", *TINY],
              "sim_eval": {"scenarios": ["isolated"], "trials": 1},
              "latency": {"frames": 2, "threads": 1}, "rows": rows}
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_ablation")
    make_jacquard(root / "train", 6, seed=0)
    make_jacquard(root / "test", 2, seed=1)
    return root


def test_one_command_trains_evaluates_and_tabulates_every_row(data, tmp_path):
    config = write_config(tmp_path, data, [
        {"id": "small", "name": "GG-CNN tiny", "recipe": RECIPE},
        {"id": "student", "name": "GG-CNN2 distilled", "recipe": RECIPE,
         "set": ["model.arch=ggcnn2"], "teacher": "@small"},
        {"id": "shipped", "name": "shipped ggcnn", "weights": "ggcnn"},
    ])
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\nold table\n{END}\noutro\n")
    assert main(["--config", str(config), "--readme", str(readme)]) == 0
    out = tmp_path / "runs"
    results = json.loads((out / "ablation.json").read_text())
    assert [r["id"] for r in results] == ["small", "student", "shipped"]
    for r in results:
        model, _ = load_weights(r["weights"])
        assert r["params"] == sum(p.numel() for p in model.parameters())
        assert r["test"]["samples"] == 2
        assert r["sim_eval"]["isolated/legacy/top"]["attempts"] == 1
        assert r["latency"]["median_ms"] > 0
    # the table's test metric is the one the training run measured (same depth images)
    for r in results[:2]:
        run_metrics = json.loads((out / r["id"] / "metrics.json").read_text())["final"]["test"]
        assert r["test"]["top1_correct"] == run_metrics["top1_correct"]
    student = results[1]
    assert student["architecture"] == "ggcnn2"
    assert student["training"]["distilled_from"] == str(out / "small" / "model.safetensors")
    table = (out / "ablation.md").read_text()
    assert all(name in table for name in ("GG-CNN tiny", "GG-CNN2 distilled", "shipped ggcnn"))
    assert (out / "ablation.png").stat().st_size > 0
    text = readme.read_text()
    assert "old table" not in text and "GG-CNN2 distilled" in text
    assert text.startswith("intro\n") and text.endswith("outro\n")

    # a rerun trains nothing and evaluates nothing again
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*") if p.name in
              ("checkpoint.pt", "model.safetensors", "result.json")}
    assert len(stamps) == 7   # 2 trained rows x 3 files + the shipped row's result
    assert main(["--config", str(config)]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert torch.load(out / "small" / "checkpoint.pt", weights_only=True)["epoch"] == 1


def test_evaluation_rows_with_the_probe_and_a_sim_eval_grid(tmp_path):
    config = {"name": "eval", "out": str(tmp_path / "runs"), "test": None,
              "probe": {"yaws": 2, "heights": [0.6], "tilts": [0.0]},
              "sim_eval": {"trials": 1, "runs": [
                  {"scenario": "isolated", "gripper": "robotiq_2f85", "camera": "top"},
                  {"scenario": "isolated", "gripper": "franka", "camera": "tilted"}]},
              "latency": {"frames": 2, "threads": 1},
              "rows": [{"id": "ggcnn", "name": "shipped ggcnn", "weights": "ggcnn",
                        "budget_note": "two stages, see its card"},
                       {"id": "good", "name": "baseline", "predictor": "baseline"},
                       {"id": "bad", "name": "control", "predictor": "baseline_along"},
                       {"id": "ref", "name": "oracle", "predictor": "oracle"}]}
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path)]) == 0
    out = tmp_path / "runs"
    results = {r["id"]: r for r in json.loads((out / "ablation.json").read_text())}
    for r in results.values():
        assert set(r["sim_eval"]) == {"isolated/robotiq_2f85/top", "isolated/franka/tilted"}
        # the oracle grades the scene itself: it has no probe
        assert ("probe" in r) == (r["id"] != "ref")
        assert r["id"] == "ref" or r["probe"]["overall"]["views"] == 7 * 2
    assert "latency" in results["ggcnn"] and "latency" not in results["good"]
    # the control closes along the long axis of the same objects the baseline finds
    assert results["good"]["probe"]["overall"]["median_error_deg"] < 20.0
    assert results["bad"]["probe"]["overall"]["median_error_deg"] > 60.0
    table = (out / "ablation.md").read_text()
    assert "probe: median axis error" in table and "sim isolated/franka/tilted" in table
    assert "Angle probe by object" in table and "bar_25" in table
    assert "| shipped ggcnn | 0.06 M | two stages, see its card |" in table
    bad = dict(config, rows=[{"id": "x", "predictor": "perfect"}])
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match="predictor must be one of"):
        load_config(path)


def test_a_shapes_probe_added_later_runs_alone_and_is_tabulated(tmp_path, monkeypatch):
    import grasp_seg_ros.sim.evaluation as evaluation
    import grasp_seg_ros.sim.probe as probe
    calls = []   # spies on the real probe and trials: what ran
    real_probe, real_trials = probe.run_probe, evaluation.run_sim_eval
    monkeypatch.setattr(probe, "run_probe", lambda *a, **k: calls.append(
        ("probe", tuple(o.name for o in k["objects"]))) or real_probe(*a, **k))
    monkeypatch.setattr(evaluation, "run_sim_eval", lambda *a, **k: calls.append(
        ("trials",)) or real_trials(*a, **k))
    config = {"name": "eval", "out": str(tmp_path / "runs"), "test": None,
              "probe": {"yaws": 1, "heights": [0.6], "tilts": [0.0]},
              "sim_eval": {"trials": 1, "runs": [
                  {"scenario": "isolated", "gripper": "robotiq_2f85", "camera": "top"}]},
              "rows": [{"id": "rule", "name": "rule", "predictor": "baseline_heightmap"},
                       {"id": "bad", "name": "control", "predictor": "baseline_heightmap_along"}]}
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path)]) == 0
    assert [c[0] for c in calls] == ["probe", "trials"] * 2
    calls.clear()
    config["shapes_probe"] = {"yaws": 2, "heights": [0.6], "tilts": [0.0]}
    path.write_text(yaml.safe_dump(config))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- ablation:begin -->\n<!-- ablation:end -->\n")
    assert main(["--config", str(path), "--readme", str(readme)]) == 0
    # the primitives' probe and the trials are cached; only the shapes run
    assert calls == [("probe", ("L_12x10", "T_14x10", "V_11_60"))] * 2
    results = {r["id"]: r for r in json.loads((tmp_path / "runs" / "ablation.json").read_text())}
    assert all(r["shapes_probe"]["overall"]["views"] == 3 * 2 for r in results.values())
    shapes = set(results["rule"]["shapes_probe"]["by_object"])
    assert shapes == {"L_12x10", "T_14x10", "V_11_60"}
    table = (tmp_path / "runs" / "ablation.md").read_text()
    assert "## Angle probe on shapes" in table and "V_11_60: median (within 20)" in table
    assert "The angle probe on L, T and V shapes (6 views per row" in readme.read_text()


def test_a_rows_quality_threshold_reaches_the_trials_and_its_cache_key(tmp_path, monkeypatch):
    import grasp_seg_ros.sim.evaluation as evaluation
    seen = []   # a spy on the real trials: the threshold of the detector they ran
    real = evaluation.run_sim_eval

    def spy(predictor, **kwargs):
        seen.append(predictor.config.decode.quality_threshold)
        return real(predictor, **kwargs)

    monkeypatch.setattr(evaluation, "run_sim_eval", spy)
    config = {"name": "threshold", "out": str(tmp_path / "runs"), "test": None,
              "latency": {"frames": 1},
              "sim_eval": {"trials": 1, "runs": [
                  {"scenario": "isolated", "gripper": "robotiq_2f85", "camera": "top"}]},
              "rows": [{"id": "plain", "weights": "ggcnn2_heightmap"},
                       {"id": "strict", "weights": "ggcnn2_heightmap", "quality_threshold": 1}]}
    path = tmp_path / "threshold.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path)]) == 0
    assert seen == [DecodeParams().quality_threshold, 1.0]
    results = {r["id"]: r for r in json.loads((tmp_path / "runs" / "ablation.json").read_text())}
    keys = [results[i]["settings"]["sim_eval"]["weights"] for i in ("plain", "strict")]
    assert keys[1] == f"{keys[0]} quality_threshold=1"
    # nothing is rated above 1: the strict row publishes no grasp and lifts nothing
    assert results["strict"]["sim_eval"]["isolated/robotiq_2f85/top"]["successes"] == 0


def test_extra_seed_blocks_are_pooled_compared_and_measured_once(tmp_path, monkeypatch):
    import grasp_seg_ros.sim.evaluation as evaluation
    calls = []   # a spy on the real trials: which seeds ran
    real = evaluation.run_sim_eval

    def spy(*args, **kwargs):
        calls.append(kwargs["seed"])
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "run_sim_eval", spy)
    config = {"name": "blocks", "out": str(tmp_path / "runs"), "test": None,
              "sim_eval": {"trials": 2, "compare_to": "good",
                           "runs": [{"scenario": "isolated", "gripper": "robotiq_2f85",
                                     "camera": "top"}]},
              "rows": [{"id": "good", "name": "baseline", "predictor": "baseline"},
                       {"id": "bad", "name": "control", "predictor": "baseline_along"}]}
    path = tmp_path / "blocks.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path)]) == 0
    assert calls == [evaluation.EVAL_SEED_OFFSET] * 2   # one block per row
    config["sim_eval"]["extra_seeds"] = [5_100_000, 5_200_000]
    path.write_text(yaml.safe_dump(config))
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{BEGIN}\nold\n{END}\nafter\n")
    assert main(["--config", str(path), "--readme", str(readme)]) == 0
    # the first block stays cached: only the two new blocks ran, for each row
    assert calls[2:] == [5_100_000, 5_200_000] * 2
    out = tmp_path / "runs"
    results = {r["id"]: r for r in json.loads((out / "ablation.json").read_text())}
    label = "isolated/robotiq_2f85/top"
    for r in results.values():
        blocks = [r["sim_eval"], r["sim_eval@5100000"], r["sim_eval@5200000"]]
        assert [b[label]["attempts"] for b in blocks] == [2, 2, 2]
        k = sum(b[label]["successes"] for b in blocks)
        assert f"| {r['name']} | - | - | {k}/6 (" in (out / "ablation.md").read_text()
    good, bad = results["good"], results["bad"]
    diffs = [100 * (bad[p][label]["success_rate"] - good[p][label]["success_rate"])
             for p in ("sim_eval", "sim_eval@5100000", "sim_eval@5200000")]
    md = (out / "ablation.md").read_text()
    assert "Sim trials by block of seeds" in md
    row = next(line for line in md.splitlines()
               if line.startswith("| control |") and "of 3" in line)
    assert f"{sum(diffs) / 3:+.1f} (" in row
    # the README gets the pooled table and the blocks under it
    text = readme.read_text()
    assert "Successes per block of 2 attempts" in text and row in text and "old" not in text
    config["sim_eval"]["extra_seeds"] = [42]   # a training scene's seed
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="extra_seeds must be distinct scene seeds"):
        load_config(path)
    config["sim_eval"].update(extra_seeds=[], compare_to="nobody")
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="compare_to names 'nobody'"):
        load_config(path)
    config["sim_eval"].update(compare_to=None, runs=[{"scenario": "isolated",
                                                      "gripper": "robotiq_2f85",
                                                      "camera": "ceiling"}])
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="camera must be one of"):
        load_config(path)


def test_shipped_evaluation_config_loads():
    config = load_config(ROOT / "config" / "evaluation.yaml")
    ids = [row["id"] for row in config["rows"]]
    assert ids == ["ggcnn", "ggcnn2", "pspnet_r18", "ggcnn2_heightmap", "ggcnn2_heightmap_v2",
                   "ggcnn2_heightmap_half_turn", "baseline", "baseline_heightmap",
                   "baseline_along", "oracle", "search"]
    assert config["rows"][5]["augment"] == "half_turn"
    grippers = {run["gripper"] for run in config["sim_eval"]["runs"]}
    cameras = {run["camera"] for run in config["sim_eval"]["runs"]}
    assert grippers == {"robotiq_2f85", "franka", "legacy"} and cameras == {"top", "tilted"}


def test_config_mistakes_are_named(tmp_path, data):
    bad = write_config(tmp_path, data, [{"id": "a", "recipe": RECIPE, "colour": "red"}])
    with pytest.raises(ValueError, match="unknown keys \\['colour'\\]"):
        load_config(bad)
    bad = write_config(tmp_path, data, [{"id": "a", "recipe": RECIPE, "teacher": "@b"},
                                        {"id": "b", "recipe": RECIPE}])
    with pytest.raises(ValueError, match="not an earlier row"):
        load_config(bad)
    bad = write_config(tmp_path, data, [{"id": "a", "recipe": RECIPE},
                                        {"id": "a", "recipe": RECIPE}])
    with pytest.raises(ValueError, match="duplicate row id"):
        load_config(bad)
    for row, message in (({"id": "a", "recipe": RECIPE, "augment": "spin"},
                          "augment must be one of"),
                         ({"id": "a", "predictor": "baseline", "augment": "mirror"},
                          "augment needs a network row"),
                         ({"id": "a", "recipe": RECIPE, "quality_threshold": 1.5},
                          "quality_threshold must be a number in \\[0, 1\\]"),
                         ({"id": "a", "recipe": RECIPE, "quality_threshold": "high"},
                          "quality_threshold must be a number"),
                         ({"id": "a", "predictor": "baseline", "quality_threshold": 0.2},
                          "quality_threshold needs a network row")):
        with pytest.raises(ValueError, match=message):
            load_config(write_config(tmp_path, data, [row]))
    readme = tmp_path / "R.md"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        update_readme(readme, "| table |")


def test_shipped_ablation_config_loads_and_names_real_recipes():
    config = load_config(ROOT / "config" / "ablation.yaml")
    ids = [row["id"] for row in config["rows"]]
    assert ids[:2] == ["ggcnn", "ggcnn2"] and "pspnet_r18_distilled" in ids
    for row in config["rows"]:
        assert (ROOT / row["recipe"]).is_file()


@pytest.mark.parametrize("name", ["ablation", "ablation_heightmap", "evaluation",
                                  "distillation_heightmap", "ablation_data",
                                  "evaluation_cameras"])
def test_every_shipped_config_resolves_its_recipes_and_has_its_readme_table(name):
    """Each row's recipe loads with the row's overrides (a misspelt key or value is refused
    by the recipe), and the README holds the markers its --readme run rewrites."""
    from grasp_seg_ros.training.ablation import budget_sets
    from grasp_seg_ros.training.recipe import load_recipe
    config = load_config(ROOT / "config" / f"{name}.yaml")
    for row in config["rows"]:
        if "recipe" in row:
            load_recipe(ROOT / row["recipe"], [*budget_sets(row, config), *row.get("set", [])])
    marker = config.get("readme_marker", "ablation")
    readme = (ROOT / "README.md").read_text()
    assert f"<!-- {marker}:begin -->" in readme and f"<!-- {marker}:end -->" in readme


def test_distillation_rows_differ_only_in_the_teacher_term():
    from grasp_seg_ros.training.ablation import budget_sets
    from grasp_seg_ros.training.recipe import load_recipe
    config = load_config(ROOT / "config" / "distillation_heightmap.yaml")
    rows = {row["id"]: row for row in config["rows"]}
    recipes = {i: load_recipe(ROOT / rows[i]["recipe"],
                              [*budget_sets(rows[i], config), *rows[i].get("set", [])])
               for i in ("r50_teacher", "r18_distilled", "r18_labels")}
    assert recipes["r50_teacher"].model.arch == "pspnet_r50"
    assert recipes["r18_distilled"].model.arch == recipes["r18_labels"].model.arch == "pspnet_r18"
    assert rows["r18_distilled"]["teacher"] == "@r50_teacher"
    distill = recipes["r18_distilled"].distill   # half labels, half teacher: the label-only
    assert distill.kd_weight == distill.gt_weight == 0.5   # row's gradient scale
    for i in ("r50_teacher", "r18_distilled"):   # same data, input, head and optimiser
        for section in ("data", "augmentation", "train"):
            assert getattr(recipes[i], section) == getattr(recipes["r18_labels"], section)
    assert recipes["r18_labels"].data.input == "height_map"
    assert recipes["r18_labels"].data.angle_bins == 12


def test_data_rows_differ_only_in_the_extra_scenes_and_their_epochs():
    """More scenes against more epochs: the rows start from the shipped default with its
    last stage's settings; one adds the extra trays, one the trays and more table scenes, the
    other trains longer, on about the same number of images (README: "More tray scenes
    against more epochs")."""
    from grasp_seg_ros.training.ablation import budget_sets
    from grasp_seg_ros.training.recipe import load_recipe
    config = load_config(ROOT / "config" / "ablation_data.yaml")
    rows = {row["id"]: row for row in config["rows"]}
    same, more, most = (load_recipe(ROOT / rows[i]["recipe"],
                                    [*budget_sets(rows[i], config), *rows[i].get("set", [])])
                        for i in ("more_epochs", "more_trays", "more_scenes"))
    assert same.model == more.model and same.model.init == "ggcnn2_heightmap"
    assert same.data.extra_train == () and len(more.data.extra_train) == 1
    assert replace(more.data, extra_train=()) == same.data
    assert same.data.raised_background_weight == 60.0      # the default's last stage
    assert (same.train.epochs, more.train.epochs) == (10, 6)
    assert replace(more.train, epochs=10) == same.train and same.train.threads == 1
    assert same.augmentation == more.augmentation == most.augmentation
    # 900 more table scenes on top of the trays, at 4 epochs: 2160 x 4 images against 8100
    assert most.data.extra_train[0] == more.data.extra_train[0]
    assert len(most.data.extra_train) == 2 and most.data.extra_train[1].endswith("extra2/train")
    assert replace(most.data, extra_train=()) == same.data
    assert replace(most.train, epochs=6) == more.train and most.train.epochs == 4
    assert config["sim_eval"]["compare_to"] == "ggcnn2_heightmap"


def test_full_budget_drops_the_config_and_row_budgets():
    from grasp_seg_ros.training.ablation import budget_sets
    config = load_config(ROOT / "config" / "ablation.yaml")
    rows = {row["id"]: row for row in config["rows"]}
    assert budget_sets(rows["pspnet_r18"], config) == ["train.epochs=4"]
    assert budget_sets(rows["pspnet_r50"], config) == ["train.epochs=12"]
    # the shipped student and its label-only control share the teacher's budget
    assert budget_sets(rows["pspnet_r18_distilled_12ep"], config) == ["train.epochs=12"]
    assert budget_sets(rows["pspnet_r18_12ep"], config) == ["train.epochs=12"]
    assert rows["pspnet_r18_distilled_12ep"]["teacher"] == "@pspnet_r50"
    assert budget_sets(rows["ggcnn"], config) == []
    full = load_config(ROOT / "config" / "ablation.yaml", ["full_budget=true"])
    assert all(budget_sets(row, full) == [] for row in full["rows"])
