"""Height-map training data from a generated scene (real PyBullet), binned losses, and a
height-map model trained by the recipe runner and run by the detector."""

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from grasp_seg_ros.core.grasp import DecodeParams, OutputScaling, angle_difference
from grasp_seg_ros.core.heightmap import make_height_map
from grasp_seg_ros.core.jacquard import find_samples, read_mask
from grasp_seg_ros.core.opening import OpeningParams
from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
from grasp_seg_ros.nets.weights import read_metadata
from grasp_seg_ros.sim.camera import camera_model
from grasp_seg_ros.sim.dataset import GenerateJob, generate_scene
from grasp_seg_ros.sim.scene import SceneConfig
from grasp_seg_ros.sim.trials import GradeConfig
from grasp_seg_ros.training.augmentation import GridAugmentation
from grasp_seg_ros.training.height_maps import (HeightMapConfig, HeightMapDataset,
                                                draw_bin_targets, graded_samples, labels_in_grid)
from grasp_seg_ros.training.losses import binned_map_losses, map_losses
from grasp_seg_ros.training.recipe import load_recipe
from grasp_seg_ros.training.run import build_datasets, height_map_training_notes, train

ROOT = Path(__file__).resolve().parents[2]
GRADE = GradeConfig(centres_per_object=1, angles=6, perturbations=0)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Two scenes: a top-down camera and a tilted close one (both real renders and trials)."""
    root = tmp_path_factory.mktemp("graded")
    for seed, cam in ((11, camera_model("d435")),
                      (12, camera_model("d405", height_m=0.4, tilt_deg=30))):
        generate_scene(GenerateJob(root, seed=seed, scene=SceneConfig(num_objects=(2, 3)),
                                   grade=GRADE, camera=cam))
    return root


def test_graded_candidates_land_on_their_objects_in_the_height_map(scenes):
    samples = graded_samples(scenes)
    assert len(samples) == 2
    for sample, jac in zip(samples, find_samples(scenes)):
        frame = sample.load()
        mask = read_mask(jac.path("mask"))
        hm = make_height_map(frame.exact_m, frame.intrinsics, HeightMapConfig().spec)
        labels = labels_in_grid(frame, hm.grid)
        assert len(labels) == len(frame.graded) > 0
        for lab, g in zip(labels, frame.graded):
            r, c = int(round(lab.rectangle.row)), int(round(lab.rectangle.col))
            # on an object: above the table in the map, as the candidate's pixel is in the image
            assert hm.height_m[max(r - 2, 0):r + 3, max(c - 2, 0):c + 3].max() > 0.005
            ri, ci = int(round(g.rectangle.row)), int(round(g.rectangle.col))
            assert mask[max(ri - 2, 0):ri + 3, max(ci - 2, 0):ci + 3].any()
            assert lab.rectangle.opening_px * hm.grid.resolution_m == pytest.approx(g.width_m)
        if abs(hm.plane.tilt_deg()) < 1.0:   # top-down: the map's angles are the image's
            for lab, g in zip(labels, frame.graded):
                assert np.degrees(angle_difference(lab.rectangle.angle_rad,
                                                   g.rectangle.angle_rad)) < 2.0


def test_augmented_maps_keep_labels_on_their_objects(scenes):
    ds = HeightMapDataset(graded_samples(scenes), augmentation=GridAugmentation(), seed=3)
    bins = ds.config.angle_bins
    for epoch in range(3):
        ds.epoch = epoch
        for i in range(len(ds)):
            x, y, good = ds.example(i)
            assert x.shape == (1, 224, 224) and y.shape == (2 * bins + 2, 224, 224)
            quality = y[:bins].max(0)
            if (quality > 0.5).any():   # graspable cells are on something above the table
                assert np.median(x[0][quality > 0.5]) > 0.01
            assert (y[bins:2 * bins] < 0).mean() > 0.9   # background counts


def test_object_cells_no_candidate_covers_can_be_left_out_instead_of_taught_as_bad(scenes):
    samples = graded_samples(scenes)
    bins = HeightMapConfig().angle_bins
    unknown_ds = HeightMapDataset(samples, HeightMapConfig(unlabelled_objects="unknown"))
    plain_ds = HeightMapDataset(samples)
    for i in range(len(samples)):
        x, y, _ = unknown_ds.example(i)
        unknown = (y[bins:2 * bins] == 0).all(0)
        assert unknown.mean() > 0.002
        assert np.median(x[0][unknown]) > 0.1       # standing on the table (decimetres)
        plain = plain_ds.example(i)[1]
        assert (plain[bins:2 * bins][:, unknown] < 0).all()    # background by default
        # candidates and the rest of the background are the same either way
        np.testing.assert_array_equal(y[:bins], plain[:bins])
        assert ((y[bins:2 * bins] != plain[bins:2 * bins]).any(0) == unknown).all()
    with pytest.raises(ValueError, match="unlabelled_objects"):
        HeightMapDataset(samples, HeightMapConfig(unlabelled_objects="maybe"))


def test_raised_background_weighs_more_and_counts_so_in_the_loss():
    from grasp_seg_ros.core.rectangles import GraspRectangle
    from grasp_seg_ros.training.height_maps import GridLabel
    scaling = OutputScaling(50.0, 12)
    labels = [GridLabel(GraspRectangle(50, 50, np.radians(20.0), 30, 10), 1.0)]
    raised = np.zeros((100, 100), bool)
    raised[0:3, :] = True            # a wall along one edge
    raised[50, 50] = True            # under the candidate: the candidate's label wins
    t = draw_bin_targets(labels, 100, 12, scaling, raised=raised, raised_weight=5.0)
    w = t[12:24]
    assert (w[:, 0:3, :] == -5.0).all() and (w[:, 10:20, 10:20] == -1.0).all()
    assert w[7, 50, 50] > 0
    pred = torch.zeros(1, 13, 100, 100)
    on_wall, on_table = pred.clone(), pred.clone()
    on_wall[0, 3, 1, 1] = 1.0
    on_table[0, 3, 10, 10] = 1.0
    target = torch.from_numpy(t)[None]
    assert float(binned_map_losses(on_wall, target)["loss_background"]) == pytest.approx(
        5.0 * float(binned_map_losses(on_table, target)["loss_background"]))


def test_bin_targets_weigh_two_nearest_bins_and_leave_untried_bins_out():
    from grasp_seg_ros.core.rectangles import GraspRectangle
    from grasp_seg_ros.training.height_maps import GridLabel
    scaling = OutputScaling(50.0, 12)
    labels = [GridLabel(GraspRectangle(50, 50, np.radians(20.0), 30, 10), 1.0),
              GridLabel(GraspRectangle(50, 50, np.radians(-70.0), 30, 10), 0.0)]
    t = draw_bin_targets(labels, 100, 12, scaling)
    q, w = t[:12, 50, 50], t[12:24, 50, 50]
    assert q[7] == 1.0 and q[8] == 1.0 and w[7] == pytest.approx(2 / 3) \
        and w[8] == pytest.approx(1 / 3)                  # 20 deg between 15 and 30
    assert w[1] == pytest.approx(2 / 3) and q[1] == 0.0   # -70 deg: bad, between -75 and -60
    assert w[4] == 0.0                                     # -30 deg: not tried, not counted
    assert (t[12:24, 5, 5] == -1.0).all() and (t[:12, 5, 5] == 0).all()  # background: bad
    assert t[25, 50, 50] == 1.0 and t[24, 50, 50] == pytest.approx(30 / 50)  # width, good
    assert t[25, 5, 5] == 0.0
    pred = torch.from_numpy(np.concatenate([t[:12], t[24:25]]))[None]
    target = torch.from_numpy(t)[None]
    assert all(float(v) == 0 for v in binned_map_losses(pred, target).values())
    pred_untried = pred.clone()
    pred_untried[0, 4] = 5.0 * (torch.from_numpy(t[16]) == 0)   # only where unweighted
    assert float(map_losses(pred_untried, target)["loss_quality_bins"]) == 0.0
    pred_wrong = pred.clone()
    pred_wrong[0, 1, 50, 50] = 1.0                              # a tried-and-bad bin
    assert float(map_losses(pred_wrong, target)["loss_quality_bins"]) > 0.0
    # one wrong background cell weighs as much as one wrong candidate cell would, over its own
    # (much larger) count: the two parts are averaged apart
    pred_bg = pred.clone()
    pred_bg[0, 3, 5, 5] = 1.0
    losses = map_losses(pred_bg, target)
    assert float(losses["loss_quality_bins"]) == 0.0
    assert float(losses["loss_background"]) == pytest.approx(1.0 / (t[12:24] < 0).sum())


def test_ranking_term_and_direction_pairs_see_only_the_order_of_a_cells_directions():
    from grasp_seg_ros.core.rectangles import GraspRectangle
    from grasp_seg_ros.training.height_maps import GridLabel
    from grasp_seg_ros.training.metric import direction_pairs
    scaling = OutputScaling(50.0, 12)
    # one cell tried in two directions (20 deg held, -70 deg failed); another only failed
    labels = [GridLabel(GraspRectangle(50, 50, np.radians(20.0), 30, 10), 1.0),
              GridLabel(GraspRectangle(50, 50, np.radians(-70.0), 30, 10), 0.0),
              GridLabel(GraspRectangle(20, 20, np.radians(20.0), 30, 10), 0.0),
              GridLabel(GraspRectangle(20, 20, np.radians(-70.0), 30, 10), 0.0)]
    target = torch.from_numpy(draw_bin_targets(labels, 100, 12, scaling))[None]

    def losses(held: float, failed: float) -> tuple[float, tuple[int, int]]:
        pred = torch.zeros(1, 13, 100, 100)
        pred[0, 7:9], pred[0, 1:3] = held, failed    # the bins either side of 20 and -70 deg
        out = binned_map_losses(pred, target, rank_weight=1.0, rank_temperature=0.1)
        return float(out["loss_bin_ranking"]), direction_pairs(pred, target)

    blind, blind_pairs = losses(0.5, 0.5)
    right, right_pairs = losses(1.0, 0.0)
    wrong, wrong_pairs = losses(0.0, 1.0)
    assert right < 1e-3 < blind < wrong
    assert right_pairs[0] == right_pairs[1] > 0     # every pair that differs, ordered right
    assert blind_pairs[0] == 0 and wrong_pairs[0] == 0 and blind_pairs[1] == right_pairs[1]
    # only the held-vs-failed cells compare: the all-failed cell adds no pair and no loss
    assert right_pairs[1] % 4 == 0    # 2 bins held x 2 bins failed per compared cell
    assert "loss_bin_ranking" not in binned_map_losses(torch.zeros(1, 13, 100, 100), target)
    with pytest.raises(ValueError, match="temperature"):
        binned_map_losses(torch.zeros(1, 13, 100, 100), target, rank_weight=1.0,
                          rank_temperature=0.0)


def test_height_map_recipe_trains_and_the_detector_runs_its_model(scenes, tmp_path):
    recipe = load_recipe(ROOT / "config" / "train" / "ggcnn2_heightmap.yaml",
                         [f"data.train={scenes}", "data.val_fraction=0.5", "train.epochs=1",
                          "train.batch_size=1", "train.num_workers=0", "eval.plot_images=1"])
    metrics = train(recipe, tmp_path / "run")
    assert np.isfinite(metrics["val_loss"])
    weights = tmp_path / "run" / "model.safetensors"
    meta = read_metadata(weights)
    assert meta.input_kind == "height_map" and meta.input_size_px == 224
    assert meta.scaling.angle_bins == 12 and meta.arch_kwargs == {"angle_bins": 12}
    assert meta.normalisation.kind == "height"
    # the card says what the model takes, gives, and what its labels and cameras were
    assert meta.training["label_gripper"] == "robotiq_2f85"
    assert meta.training["label_trials"] == "fast 2"
    assert meta.training["training_cameras"].startswith("2 scenes, one camera each: d405 1, "
                                                        "d435 1; height 0.40-")
    card = (tmp_path / "run" / "model.md").read_text()
    assert "plane-aligned height map, 224x224 cells of 2 mm" in card
    assert "quality per closing direction (12 bins of 15°)" in card
    assert "depth crop" not in card and "cos 2θ" not in card
    # one epoch on one scene: rank every peak, whatever its quality
    det = GraspDetector(weights, device="cpu", config=DetectorConfig(
        decode=DecodeParams(quality_threshold=-np.inf)))
    frame = graded_samples(scenes)[1].load()
    result = det.detect(frame.depth_m, frame.intrinsics)
    assert result.preprocessed.height_m.shape == (224, 224)
    assert result.best.is_finite() and result.best.width_m >= 0


def test_pspnet_with_angle_bins_trains_on_height_maps_and_runs_in_the_detector(scenes, tmp_path):
    """The R18 recipe of the default's input and head: binned main and auxiliary heads, the
    ranking term through both, and the detector's optimised path (auxiliary head dropped)."""
    recipe = load_recipe(ROOT / "config" / "train" / "pspnet_r18_heightmap.yaml",
                         # batch norm in training needs two scenes a batch: both train
                         [f"data.train={scenes}", f"data.val={scenes}", "train.epochs=1",
                          "train.batch_size=2", "train.num_workers=0", "train.threads=1",
                          "train.warmup_steps=0", "eval.plot_images=1"])
    metrics = train(recipe, tmp_path / "run")
    assert np.isfinite(metrics["val_loss"])
    weights = tmp_path / "run" / "model.safetensors"
    meta = read_metadata(weights)
    assert meta.architecture == "pspnet_r18" and meta.scaling.angle_bins == 12
    assert meta.arch_kwargs == {"output_stride": 16, "angle_bins": 12}
    # one step from random heads: any peak, opened as the width head says
    det = GraspDetector(weights, device="cpu", config=DetectorConfig(
        decode=DecodeParams(quality_threshold=-np.inf), opening=OpeningParams(mode="model")))
    frame = graded_samples(scenes)[0].load()
    result = det.detect(frame.depth_m, frame.intrinsics)
    assert result.maps.bins.shape == (12, 224, 224)
    assert result.best.is_finite()


def test_extra_training_roots_add_their_scenes_and_keep_train_s_own_split(scenes, tmp_path):
    """data.extra_train: a second cache of scenes (another generate run) joins the training
    set under its root's name; train's own samples keep their keys, the card counts all."""
    more = tmp_path / "more_scenes"
    shutil.copytree(scenes, more)
    base = ROOT / "config" / "train" / "ggcnn2_heightmap.yaml"
    alone = load_recipe(base, [f"data.train={scenes}", "data.val_fraction=0.5"])
    both = load_recipe(base, [f"data.train={scenes}", f"data.extra_train=[{more}]",
                              "data.val_fraction=0.5"])
    assert both.data.extra_train == (str(more),)
    train_set, val_set, _ = build_datasets(both)
    keys = sorted(s.key for s in train_set.samples + val_set.samples)
    own = sorted(s.key for s in graded_samples(scenes))
    assert keys == sorted(own + [f"more_scenes/{k}" for k in own])
    assert len({s.group for s in train_set.samples + val_set.samples}) == 4
    assert height_map_training_notes(alone)["training_cameras"].startswith("2 scenes")
    assert height_map_training_notes(both)["training_cameras"].startswith("4 scenes")
    train(replace(both, train=replace(both.train, epochs=1, batch_size=1, num_workers=0),
                  eval=replace(both.eval, plot_images=1)), tmp_path / "run")
    meta = read_metadata(tmp_path / "run" / "model.safetensors")
    assert meta.training["train_data"] == f"{scenes}, {more}"
    assert meta.training["training_cameras"].startswith("4 scenes")
    with pytest.raises(ValueError, match="extra_train.*height_map"):
        load_recipe(ROOT / "config" / "train" / "ggcnn2_synthetic.yaml",
                    [f"data.extra_train=[{more}]"])
