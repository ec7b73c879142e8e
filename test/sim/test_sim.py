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


def test_objects_get_masses_from_their_volume(client):
    from grasp_seg_ros.sim.objects import ObjectPhysics, apply_physics, body_volume_m3
    shapes = {"box": (pybullet.GEOM_BOX, {"halfExtents": [0.02, 0.03, 0.04]}, 0.04 * 0.06 * 0.08),
              "cylinder": (pybullet.GEOM_CYLINDER, {"radius": 0.02, "height": 0.1},
                           np.pi * 0.02 ** 2 * 0.1),
              "sphere": (pybullet.GEOM_SPHERE, {"radius": 0.03}, 4 / 3 * np.pi * 0.03 ** 3)}
    rng = np.random.default_rng(0)
    physics = ObjectPhysics(density_kg_m3=(500.0, 500.0), mass_kg=(0.0, 10.0))
    for kind, (geom, kwargs, volume) in shapes.items():
        col = pybullet.createCollisionShape(geom, physicsClientId=client, **kwargs)
        body = pybullet.createMultiBody(1.0, col, physicsClientId=client)
        assert body_volume_m3(client, body) == pytest.approx(volume, rel=1e-6), kind
        assert apply_physics(client, body, physics, rng) == pytest.approx(500.0 * volume)
        mass = pybullet.getDynamicsInfo(body, -1, physicsClientId=client)[0]
        assert mass == pytest.approx(500.0 * volume)
    # a heavy solid is clamped to the range of real objects
    big = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[0.2] * 3,
                                        physicsClientId=client)
    body = pybullet.createMultiBody(1.0, big, physicsClientId=client)
    assert apply_physics(client, body, ObjectPhysics(), rng) == ObjectPhysics().mass_kg[1]


def test_mesh_objects_get_masses_in_the_range_of_real_objects():
    from grasp_seg_ros.sim.objects import ObjectPhysics, body_volume_m3
    from grasp_seg_ros.sim.scene import SceneConfig
    physics = ObjectPhysics()
    with make_scene(3, config=SceneConfig(num_objects=(4, 4), sources=("random_urdfs",))) \
            as scene:
        for o in scene.objects:
            mass = pybullet.getDynamicsInfo(o.body_id, -1, physicsClientId=scene.client)[0]
            assert mass == pytest.approx(o.mass_kg)
            lo, hi = physics.mass_kg
            assert lo <= mass <= hi
            if lo < mass < hi:  # not clamped: the density is in its range
                density = mass / body_volume_m3(scene.client, o.body_id)
                assert physics.density_kg_m3[0] - 1e-6 <= density <= physics.density_kg_m3[1]


def test_a_tray_scene_knows_the_height_of_the_tray_floor():
    # the gripper's clearance is measured from it: a floor given too low drove the finger tips
    # into the tray's floor under low objects, where they stuck instead of closing
    from grasp_seg_ros.sim.scene import SceneConfig
    config = SceneConfig(num_objects=(1, 1), sources=("primitives",), tray=True)
    with make_scene(3, config=config) as scene:
        tx, ty = scene.camera.target_xy_m
        starts = [[tx + dx, ty + dy, 1.0] for dx in (-0.1, 0.1) for dy in (-0.1, 0.1)]
        hits = pybullet.rayTestBatch(starts, [[x, y, -1.0] for x, y, _ in starts],
                                     physicsClientId=scene.client)
        movable = {o.body_id for o in scene.objects}
        floor = [h[3][2] for h in hits if h[0] >= 0 and h[0] not in movable]
    assert floor and max(floor) == pytest.approx(scene.table_z_m, abs=5e-4)
    assert scene.table_z_m > 0.005
