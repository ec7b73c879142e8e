"""grasp-seg regrid: the teacher's answers moved onto the student's cells, mirrored bins, the
loss, and a run that generates real PyBullet samples, trains and resumes."""

import numpy as np
import pytest
import torch

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.grasp import angle_to_bins
from grasp_seg_ros.core.heightmap import HeightMapSpec
from grasp_seg_ros.core.resources import resolve_model
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.nets.weights import load_weights, read_metadata
from grasp_seg_ros.training import regrid
from grasp_seg_ros.training.regrid import (RegridSpec, _mirror_bins, _scene_views,
                                           regrid_losses, resample_to)

TEACHER = HeightMapSpec(224, 0.002)
STUDENT = HeightMapSpec(180, 0.0025)


def metric_position(spec: HeightMapSpec) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) offsets of every cell from the grid's centre, metres."""
    c = (spec.size_px - 1) / 2.0
    r, k = np.mgrid[0:spec.size_px, 0:spec.size_px].astype(np.float32)
    return (r - c) * spec.resolution_m, (k - c) * spec.resolution_m


def test_resampling_takes_the_teacher_value_at_the_same_metric_point():
    rows_t, cols_t = metric_position(TEACHER)
    width_t = np.full_like(rows_t, 20.0)   # 20 teacher cells = 40 mm
    out = resample_to(np.stack([rows_t, cols_t, width_t]), TEACHER, STUDENT, bins=2)
    rows_s, cols_s = metric_position(STUDENT)
    inside = (np.abs(rows_s) < 0.2) & (np.abs(cols_s) < 0.2)   # the teacher covers +-0.224 m
    np.testing.assert_allclose(out[0][inside], rows_s[inside], atol=1e-5)
    np.testing.assert_allclose(out[1][inside], cols_s[inside], atol=1e-5)
    np.testing.assert_allclose(out[2], 16.0, rtol=1e-6)   # 40 mm = 16 student cells


@pytest.mark.parametrize("angle_deg", [-75.0, -30.0, 0.0, 45.0, 90.0])
def test_mirrored_bins_hold_the_mirrored_direction(angle_deg):
    bins = 12
    y = torch.zeros(1, bins + 1, 1, 1)
    for k, w in angle_to_bins(np.radians(angle_deg), bins):
        y[0, k] += w
    mirrored = _mirror_bins(y, bins)
    expected = torch.zeros_like(y)
    for k, w in angle_to_bins(np.radians(-angle_deg), bins):
        expected[0, k] += w
    torch.testing.assert_close(mirrored, expected)


def test_loss_is_zero_for_the_teacher_and_grows_when_the_order_of_directions_flips():
    torch.manual_seed(0)
    target = torch.rand(2, 13, 8, 8)
    zero = regrid_losses(target.clone(), target, bins=12)
    assert all(float(v) == pytest.approx(0.0, abs=1e-6) for v in zero.values())
    flipped = torch.cat([target[:, :12].flip(1), target[:, 12:]], dim=1)
    assert float(regrid_losses(flipped, target, bins=12)["loss_bin_order"]) > 0.01


def test_the_spatial_term_sees_where_the_best_spot_is():
    target = torch.zeros(1, 13, 32, 32)
    target[0, 3, 5:8, 5:8] = 0.6      # the teacher's best spot
    target[0, 3, 20:23, 20:23] = 0.4  # a second object
    same = regrid_losses(target.clone(), target, bins=12, spatial_weight=1.0)
    assert float(same["loss_best_spot"]) == pytest.approx(0.0, abs=1e-5)
    swapped = target.clone()
    swapped[0, 3, 5:8, 5:8], swapped[0, 3, 20:23, 20:23] = 0.4, 0.6
    assert float(regrid_losses(swapped, target, bins=12,
                               spatial_weight=1.0)["loss_best_spot"]) > 0.5
    assert "loss_best_spot" not in regrid_losses(swapped, target, bins=12)


def test_an_error_below_the_rated_level_weighs_more_with_a_higher_unrated_weight():
    # a corner the teacher rates 0.09 (below the decoder's 0.1 threshold) that the student
    # rates 0.13: with even weights the error there is as costly as on a rated object
    target = torch.zeros(1, 13, 32, 32)
    target[0, 3, 5:15, 5:15] = 0.6       # an object, rated
    target[0, 3, 25:28, 25:28] = 0.09    # the corner
    pred = target.clone()
    pred[0, 3, 25:28, 25:28] = 0.13

    def cost(weight):
        return float(regrid_losses(pred, target, bins=12,
                                   unrated_weight=weight)["loss_quality_bins"])

    assert cost(1.0) > 1.5 * cost(0.1) > 0.0


def test_rated_cells_finds_the_threshold_that_matches_a_student_rating_high():
    teacher = np.random.default_rng(3).beta(0.5, 4.0, (20, 64, 64)).astype(np.float32)
    same = regrid.rated_cells(teacher, teacher)
    assert same["student"] == same["teacher"] > 0.05
    assert same["matched_threshold"] == pytest.approx(0.1, abs=0.002)
    high = regrid.rated_cells(teacher + 0.03, teacher)    # a few hundredths high everywhere
    assert high["student"] > high["teacher"]
    assert high["matched_threshold"] == pytest.approx(0.13, abs=0.002)


def test_the_two_maps_of_a_view_show_the_same_scene():
    views = _scene_views(regrid.FIRST_SEED + 1, TEACHER, STUDENT, views=2)
    assert len(views) == 2
    for t_map, s_map in views:
        assert t_map.shape == (224, 224) and s_map.shape == (180, 180)
        moved = resample_to(t_map[None], TEACHER, STUDENT, bins=1)[0]
        raised = (s_map > 0.01) | (moved > 0.01)
        assert raised.sum() > 100   # objects are in view
        assert float(np.abs(moved - s_map)[raised].mean()) < 0.01


def test_regrid_generates_trains_resumes_and_writes_a_model_for_the_new_grid(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(regrid, "SHARD_SCENES", 1)
    spec = RegridSpec(resolve_model("ggcnn2_heightmap_v2"), HeightMapSpec(96, 0.004))
    shards = regrid.generate(spec, 2, workers=1, cache=tmp_path / "cache")
    assert [p.name for p in shards] == ["shard_00000.npz", "shard_00001.npz"]
    data = np.load(shards[0])
    assert data["height_m"].shape[1:] == (96, 96) and data["target"].shape[1:] == (13, 96, 96)
    stamp = shards[0].stat().st_mtime_ns
    assert regrid.generate(spec, 2, workers=1, cache=tmp_path / "cache") == shards
    assert shards[0].stat().st_mtime_ns == stamp   # found, not made again

    path = regrid.train(spec, shards, tmp_path / "run", epochs=1, batch=2, threads=1,
                        val_fraction=0.5)
    meta = read_metadata(path)
    assert meta.height_map == HeightMapSpec(96, 0.004) and meta.input_size_px == 96
    history = meta.training["val_loss"]
    assert list(history) == ["epoch 0", "epoch 1"]
    assert meta.training["init"] == "ggcnn2_heightmap_v2"
    rated = meta.training["rated_cells"]
    assert rated["threshold"] == 0.1 and 0.0 <= rated["student"] <= 1.0
    assert 0.0 < rated["teacher"] < 1.0 and np.isfinite(rated["matched_threshold"])
    # the epoch's time is kept with the checkpoint, so a resumed run reports the total
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["history"][-1]["seconds"] > 0
    assert meta.training["train_samples"] + meta.training["val_samples"] == 4   # 2 views each
    before, _ = load_weights(resolve_model("ggcnn2_heightmap_v2"))
    after, _ = load_weights(path)
    assert not torch.equal(before.state_dict()["heads.heads.0.weight"],
                           after.state_dict()["heads.heads.0.weight"])
    # a second run finds the finished checkpoint and trains no further
    again = regrid.train(spec, shards, tmp_path / "run", epochs=1, batch=2, threads=1,
                         val_fraction=0.5)
    assert read_metadata(again).training["val_loss"] == history

    # the detector reads the new grid from the metadata
    intr = CameraIntrinsics(fx=600.0, fy=600.0, cx=319.5, cy=239.5, width=640, height=480)
    depth = np.full((480, 640), 0.6, np.float32)
    depth[200:280, 300:340] = 0.55
    det = GraspDetector(path, device="cpu").detect(depth, intr)
    assert det.preprocessed.height_m.shape == (96, 96)


def test_the_sample_cache_is_named_by_what_the_renderer_makes(tmp_path, monkeypatch):
    """Samples rendered by changed height-map code land in another folder: a render that
    moves heights by 0.5 mm, or fills one cell more, changes the renderer's fingerprint."""
    from grasp_seg_ros.core import heightmap
    spec = RegridSpec(resolve_model("ggcnn2_heightmap_v2"), HeightMapSpec(96, 0.004))
    heightmap.render_fingerprint.cache_clear()
    before = spec.cache_dir(tmp_path)
    assert before.name.endswith(f"96x4mm-render{heightmap.render_fingerprint()}")
    heightmap.render_fingerprint.cache_clear()
    assert spec.cache_dir(tmp_path) == before   # the same code: the same folder
    original = heightmap.render

    def raised(*args, **kwargs):
        img, extra = original(*args, **kwargs)
        return img + np.float32(0.0005), extra

    def one_more_cell(*args, **kwargs):
        img, extra = original(*args, **kwargs)
        img = img.copy()
        holes = np.argwhere(~np.isfinite(img))
        img[tuple(holes[len(holes) // 2])] = 0.0
        return img, extra

    for changed in (raised, one_more_cell):
        monkeypatch.setattr(heightmap, "render", changed)
        heightmap.render_fingerprint.cache_clear()
        assert spec.cache_dir(tmp_path) != before, changed.__name__
    monkeypatch.undo()
    heightmap.render_fingerprint.cache_clear()
    assert spec.cache_dir(tmp_path) == before
