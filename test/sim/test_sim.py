"""Real PyBullet: rendered depth against known geometry, seeding, labels of a known box."""

import numpy as np
import pybullet
import pytest

from grasp_seg_ros.core.grasp import angle_difference
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise, render
from grasp_seg_ros.sim.labels import mask_rectangles
from grasp_seg_ros.sim.scene import make_scene


@pytest.fixture
def client():
    cid = pybullet.connect(pybullet.DIRECT)
    yield cid
    pybullet.disconnect(cid)


def add_box(client, half_extents, position, yaw=0.0):
    col = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half_extents,
                                        physicsClientId=client)
    vis = pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=half_extents,
                                     physicsClientId=client)
    return pybullet.createMultiBody(0.0, col, vis, basePosition=position,
                                    baseOrientation=pybullet.getQuaternionFromEuler([0, 0, yaw]),
                                    physicsClientId=client)


def test_box_of_known_height_at_known_place(client):
    cam = CameraConfig()
    add_box(client, [1.0, 1.0, 0.01], [0, 0, -0.01])          # table top at z = 0
    box = add_box(client, [0.03, 0.05, 0.04], [0.05, 0.02, 0.04])  # 8 cm tall
    depth, seg = render(cam, client)
    # the box top is 0.08 m above the table: depth = camera height - 0.08
    row, col = cam.intrinsics().point_to_pixel(cam.world_to_camera([0.05, 0.02, 0.08]))
    r, c = int(round(row)), int(round(col))
    assert seg[r, c] == box
    assert depth[r, c] == pytest.approx(cam.height_m - 0.08, abs=1e-3)
    assert depth[10, 10] == pytest.approx(cam.height_m, abs=1e-3)  # table far from the box
    # the box's top face in the image matches its size through the pinhole model (the side
    # faces are seen in perspective too, so select the top by its depth)
    top = (seg == box) & (np.abs(depth - (cam.height_m - 0.08)) < 2e-3)
    rows, cols = np.nonzero(top)
    scale = cam.fx / (cam.height_m - 0.08)
    assert cols.max() - cols.min() + 1 == pytest.approx(0.06 * scale, abs=2)
    assert rows.max() - rows.min() + 1 == pytest.approx(0.10 * scale, abs=2)
    # world +y is image up
    assert row < cam.cy and col > cam.cx


def test_labels_of_a_box_cross_its_short_side(client):
    cam = CameraConfig()
    add_box(client, [1.0, 1.0, 0.01], [0, 0, -0.01])
    yaw = np.radians(30)
    box = add_box(client, [0.02, 0.06, 0.02], [0.0, 0.0, 0.02], yaw=yaw)
    _, seg = render(cam, client)
    rects = mask_rectangles(seg == box)
    assert len(rects) >= 3
    scale = cam.fx / (cam.height_m - 0.04)
    # the box's short side (x in its own frame) points along world yaw; image angle = yaw
    # (world +x = image right, world +y = image up: counter-clockwise on screen)
    for rect in rects:
        assert angle_difference(rect.angle_rad, yaw) < np.radians(4)
        assert rect.opening_px == pytest.approx(0.04 * scale + 8, abs=3)


def test_same_seed_same_scene_and_different_seed_different_scene():
    with make_scene(7) as a:
        da, _ = a.render()
    with make_scene(7) as b:
        db, _ = b.render()
    with make_scene(8) as c:
        dc, _ = c.render()
    np.testing.assert_array_equal(da, db)
    assert not np.array_equal(da, dc)


def test_noise_model_is_seeded_and_can_be_switched_off():
    depth = np.full((120, 160), 0.5, np.float32)
    depth[40:80, 60:100] = 0.4
    noise = DepthNoise()
    a = noise.apply(depth, np.random.default_rng(3))
    b = noise.apply(depth, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert np.isnan(a).any() and np.nanstd(a - depth) > 0
    off = DepthNoise(sigma_base_m=0, sigma_quadratic_per_m=0, edge_dropout=0,
                     holes_per_frame=0).apply(depth, np.random.default_rng(3))
    np.testing.assert_array_equal(off, depth)
