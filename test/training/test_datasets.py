"""Readers, splits, augmentation and the dataset class, on files the tests write."""

import numpy as np
import pytest

from grasp_seg_ros.core.cornell import (find_cornell_samples, pcd_to_depth,
                                        read_cornell_rectangles)
from grasp_seg_ros.core.rectangles import GraspRectangle, draw_training_maps
from grasp_seg_ros.core.grasp import OutputScaling
from grasp_seg_ros.training.augmentation import Augmentation, flip_sample, rotate_sample
from grasp_seg_ros.training.datasets import (DepthSample, GraspDataset, SampleConfig,
                                             load_samples, split_samples)
from tiny_data import make_jacquard, write_cornell_cloud, write_cornell_rects


def test_cornell_cloud_becomes_depth_in_metres(tmp_path):
    depth_mm = np.full((480, 640), np.nan, np.float32)
    depth_mm[100:120, 200:260] = 1200.0
    depth_mm[300, 400] = 1500.0
    cloud = tmp_path / "pcd0100.txt"
    write_cornell_cloud(cloud, depth_mm)
    depth = pcd_to_depth(cloud)
    assert depth.shape == (480, 640)
    np.testing.assert_allclose(depth[100:120, 200:260], 1.2, rtol=1e-5)
    assert depth[300, 400] == pytest.approx(1.5, rel=1e-5)
    assert np.isnan(depth[0, 0]) and np.isfinite(depth).sum() == 20 * 60 + 1


def test_cornell_rectangles(tmp_path):
    # opening edge from (row 100, col 100) to (row 100, col 140): horizontal, 40 px;
    # jaw edge 20 px; counter-clockwise corners as Cornell lists them
    rect = np.array([[100, 100], [100, 140], [80, 140], [80, 100]], float)
    steep = np.array([[0, 0], [-30, 30], [-40, 20], [-10, -10]], float) + 200  # 45 deg up
    nan = np.full((4, 2), np.nan)
    path = tmp_path / "pcd0100cpos.txt"
    write_cornell_rects(path, [rect, nan, steep])
    rects = read_cornell_rectangles(path)
    assert len(rects) == 2  # the NaN rectangle is skipped
    r = rects[0]
    assert (r.row, r.col) == (90.0, 120.0)
    assert r.angle_rad == pytest.approx(0.0)
    assert (r.opening_px, r.jaw_px) == pytest.approx((40.0, 20.0))
    # closing direction (d_row, d_col) = (-sin a, cos a): up-right on screen is +45 deg
    assert rects[1].angle_rad == pytest.approx(np.pi / 4)
    (tmp_path / "pcd0100.txt").write_text("0 0 1000 0 0\n")
    assert [s.stem for s in find_cornell_samples(tmp_path)] == ["pcd0100"]


def test_cornell_dataset_loads_through_the_common_class(tmp_path):
    depth_mm = np.full((480, 640), 1100.0, np.float32)
    depth_mm[200:260, 300:340] = 1000.0
    write_cornell_cloud(tmp_path / "pcd0001.txt", depth_mm)
    write_cornell_rects(tmp_path / "pcd0001cpos.txt",
                        [np.array([[230, 310], [230, 330], [220, 330], [220, 310]], float)])
    ds = GraspDataset(load_samples("cornell", tmp_path),
                      SampleConfig(centre_on_grasps=True))
    x, y, rects = ds.example(0)
    assert x.shape == (1, 300, 300) and y.shape == (4, 300, 300)
    r = rects[0]
    assert y[0, int(round(r.row)), int(round(r.col))] == 1.0


def test_jacquard_dataset_is_deterministic_without_augmentation(tmp_path):
    ds = GraspDataset(load_samples("synthetic", make_jacquard(tmp_path, 3)))
    a, b = ds.example(1), ds.example(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    x, y, rects = a
    assert np.isfinite(x).all()          # holes were inpainted by the node's preprocessing
    r = rects[1]
    assert y[0, int(round(r.row)), int(round(r.col))] == 1.0
    assert y[1, int(round(r.row)), int(round(r.col))] == pytest.approx(-1.0, abs=1e-3)


def test_augmentation_changes_with_epoch_but_repeats_within_one(tmp_path):
    ds = GraspDataset(load_samples("synthetic", make_jacquard(tmp_path, 2)),
                      augmentation=Augmentation())
    first = ds.example(0)[0]
    np.testing.assert_array_equal(first, ds.example(0)[0])
    ds.epoch = 1
    assert not np.array_equal(first, ds.example(0)[0])


def _bar_and_rect(n=201):
    depth = np.full((n, n), 0.6, np.float32)
    depth[90:110, 60:140] = 0.5                  # a horizontal bar
    rect = GraspRectangle(row=99.5, col=100.0, angle_rad=np.pi / 2 - 1e-3, opening_px=30,
                          jaw_px=10)             # closing vertically, across the bar
    return depth, rect


def test_rotation_moves_labels_with_the_image():
    depth, rect = _bar_and_rect()
    centre = ((depth.shape[0] - 1) / 2, (depth.shape[1] - 1) / 2)
    rotated, (r2,) = rotate_sample(depth, [rect], centre, np.pi / 2)
    np.testing.assert_array_equal(rotated, np.rot90(depth))   # counter-clockwise on screen
    scaling = OutputScaling()
    maps = draw_training_maps([rect], depth.shape, scaling)
    maps2 = draw_training_maps([r2], depth.shape, scaling)
    q_rot = np.rot90(maps[0])
    overlap = (q_rot > 0) & (maps2[0] > 0)
    assert overlap.sum() / max((q_rot > 0).sum(), 1) > 0.9
    # a quarter turn maps 2a -> 2a + pi: cos 2a changes sign; the label now closes across the
    # (now vertical) bar, i.e. horizontally
    assert abs(np.cos(r2.angle_rad)) == pytest.approx(1.0, abs=1e-2)
    assert rotated[int(round(r2.row)), int(round(r2.col))] == pytest.approx(0.5)


def test_flip_mirrors_image_and_negates_angles():
    depth, _ = _bar_and_rect()
    rect = GraspRectangle(row=80.0, col=70.0, angle_rad=0.4, opening_px=30, jaw_px=10)
    flipped, (r2,) = flip_sample(depth, [rect], horizontal=True)
    np.testing.assert_array_equal(flipped, depth[:, ::-1])
    assert (r2.row, r2.col) == (80.0, 200 - 70.0)
    assert r2.angle_rad == pytest.approx(-0.4)
    scaling = OutputScaling()
    a = draw_training_maps([rect], depth.shape, scaling)[0][:, ::-1]
    b = draw_training_maps([r2], depth.shape, scaling)[0]
    assert ((a > 0) & (b > 0)).sum() / (a > 0).sum() > 0.9
    flipped_v, (r3,) = flip_sample(depth, [rect], horizontal=False)
    np.testing.assert_array_equal(flipped_v, depth[::-1])
    assert (r3.row, r3.angle_rad) == (pytest.approx(120.0), pytest.approx(-0.4))


def _samples(groups):
    return [DepthSample(key=f"{g}/{i}", group=g, load=lambda: None)
            for g in groups for i in range(3)]


def test_image_split_is_disjoint_and_seeded():
    samples = _samples([f"o{i}" for i in range(20)])
    train, test = split_samples(samples, how="image", test_fraction=0.25, seed=1)
    assert len(test) == 15 and len(train) == 45
    assert not {s.key for s in train} & {s.key for s in test}
    assert split_samples(samples, how="image", test_fraction=0.25, seed=1)[1] == test


def test_object_split_keeps_objects_whole_and_stable():
    samples = _samples([f"o{i}" for i in range(40)])
    train, test = split_samples(samples, how="object", test_fraction=0.3)
    assert not {s.group for s in train} & {s.group for s in test}
    assert 0 < len(test) < len(samples)
    more = samples + _samples(["new1", "new2"])
    train2, test2 = split_samples(more, how="object", test_fraction=0.3)
    assert {s.key for s in test} <= {s.key for s in test2}   # adding data moves nothing
    with pytest.raises(ValueError, match="split"):
        split_samples(samples, how="random", test_fraction=0.3)


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_samples("jacquard", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset kind"):
        load_samples("coco", tmp_path)
