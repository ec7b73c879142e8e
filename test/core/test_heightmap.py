"""Height maps: plane fit, grid geometry, rendering, and the pose of a grasp found in a map."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import InvalidDepth
from grasp_seg_ros.core.grasp import Grasp2D, angle_difference
from grasp_seg_ros.core.heightmap import (HeightMapGrid, HeightMapSpec, Plane, _ray_ranges,
                                          fit_plane, frame_points, grid_window, image_points,
                                          make_height_map, render)

INTR = CameraIntrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)


def tilted_table_depth(tilt_deg: float, height_m: float, box=None) -> tuple[np.ndarray, Plane]:
    """Exact depth of a table plane seen by a camera tilted about its x axis, optionally
    with a box top (half size (a, b) m, height h m) centred where the optical axis meets it."""
    n_world = np.array([0.0, 0.0, 1.0])
    rot = Rotation.from_euler("x", 180 - tilt_deg, degrees=True).as_matrix()  # cam->world
    eye = np.array([0.0, height_m * np.tan(np.radians(tilt_deg)), height_m])
    n_cam = rot.T @ n_world                            # the table (z = 0) in camera coords:
    offset = float(n_world @ eye)                      # n_cam . p + offset = 0
    rows, cols = np.mgrid[0:INTR.height, 0:INTR.width]
    rays = INTR.pixel_to_point(rows, cols, 1.0)
    depth = -offset / (rays @ n_cam)
    if box is not None:
        a, b, h = box
        top = -(offset - h) / (rays @ n_cam)           # the plane h above the table
        pts = rays * top[..., None]
        world = pts @ rot.T + eye
        on_top = (np.abs(world[..., 0]) <= a) & (np.abs(world[..., 1]) <= b)
        depth = np.where(on_top, top, depth)
    plane = Plane.through(rot.T @ (-eye), n_cam)
    return depth.astype(np.float32), plane


@pytest.mark.parametrize("tilt", [0.0, 20.0, 35.0])
def test_plane_fit_finds_the_table_under_a_box(tilt):
    depth, truth = tilted_table_depth(tilt, 0.6, box=(0.08, 0.08, 0.1))
    rng = np.random.default_rng(0)
    depth = depth + rng.normal(0, 0.002, depth.shape).astype(np.float32)
    plane = fit_plane(frame_points(depth, INTR, cell_m=0.002))
    assert np.degrees(np.arccos(plane.normal @ truth.normal)) < 0.5
    assert plane.offset == pytest.approx(truth.offset, abs=0.003)
    assert plane.tilt_deg() == pytest.approx(tilt, abs=0.5)


def test_no_plane_in_a_cloud_of_noise():
    pts = np.random.default_rng(1).uniform(-1, 1, (3000, 3))
    assert fit_plane(pts) is None


@pytest.mark.parametrize("tilt,height", [(0.0, 0.55), (30.0, 0.9), (15.0, 0.35)])
def test_a_box_has_the_same_height_and_size_from_any_camera(tilt, height):
    spec = HeightMapSpec(224, 0.002)
    depth, _ = tilted_table_depth(tilt, height, box=(0.03, 0.06, 0.05))
    hm = make_height_map(depth, INTR, spec)
    assert hm.plane_fitted
    top = (hm.height_m > 0.025) & ~hm.hole_mask   # the shadow behind the box is inpainted
    assert hm.height_m[top].mean() == pytest.approx(0.05, abs=0.003)
    # 6 x 12 cm seen as 30 x 60 cells of 2 mm whatever the camera: the box's long side runs
    # along world y, which every camera here sees as image up (rows)
    rows, cols = np.nonzero(top)
    assert cols.max() - cols.min() + 1 == pytest.approx(30, abs=3)
    assert rows.max() - rows.min() + 1 == pytest.approx(60, abs=3)
    assert abs(rows.mean() - 111.5) < 3 and abs(cols.mean() - 111.5) < 3


@pytest.mark.parametrize("tilt,height,smaller", [
    (0.0, 0.55, True), (0.0, 0.35, False), (30.0, 0.9, True), (15.0, 0.35, False)])
def test_the_grid_window_renders_the_same_map_as_the_whole_image(tilt, height, smaller):
    """Rendering only the window of the image that can reach the grid is exact: same map, bit
    for bit, whether the window is smaller than the image (the grid covers part of the view)
    or the whole image (a close camera)."""
    spec = HeightMapSpec(224, 0.002)
    depth, _ = tilted_table_depth(tilt, height, box=(0.03, 0.06, 0.15))
    depth = depth + np.random.default_rng(2).normal(0, 0.002, depth.shape).astype(np.float32)
    points = image_points(depth, INTR, cell_m=spec.resolution_m)
    grid = HeightMapGrid.facing(fit_plane(points), INTR, spec)
    window = grid_window(points, grid, _ray_ranges(INTR, points.stride))
    fraction = window.z_m.size / points.z_m.size
    assert fraction < 0.7 if smaller else fraction == 1.0
    whole, part = render(points, grid, intrinsics=INTR), render(window, grid, intrinsics=INTR)
    assert np.array_equal(whole[0], part[0], equal_nan=True)
    assert np.isfinite(whole[0]).mean() > 0.9


def test_grid_maps_cells_to_points_and_back():
    plane = Plane.through([0.0, 0.1, 0.7], [0.1, -0.5, -1.0])
    grid = HeightMapGrid.facing(plane, INTR, HeightMapSpec())
    rng = np.random.default_rng(2)
    r, c, h = rng.uniform(0, 224, 50), rng.uniform(0, 224, 50), rng.uniform(-0.1, 0.3, 50)
    back = grid.to_cells(grid.to_points(r, c, h))
    np.testing.assert_allclose(back, (r, c, h), atol=1e-9)
    np.testing.assert_allclose(plane.height(grid.to_points(r, c, h)), h, atol=1e-9)
    # (u, v, -n) is right-handed, and the map's angles round-trip through 3-D directions
    np.testing.assert_allclose(np.cross(grid.u, grid.v), -grid.normal, atol=1e-12)
    for a in np.radians([-89.0, -30.0, 0.0, 45.0, 80.0]):
        assert angle_difference(grid.angle_of(grid.direction(a)), a) < 1e-9


def test_top_down_map_is_laid_out_like_the_image():
    depth, plane = tilted_table_depth(0.0, 0.5)
    grid = HeightMapGrid.facing(plane, INTR, HeightMapSpec())
    np.testing.assert_allclose(grid.u, [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(grid.v, [0, 1, 0], atol=1e-9)


def test_grasp_pose_from_the_map_approaches_along_the_normal_and_closes_in_the_plane():
    depth, truth = tilted_table_depth(25.0, 0.7, box=(0.02, 0.08, 0.04))
    hm = make_height_map(depth, INTR, HeightMapSpec())
    g = Grasp2D(row=112, col=112, angle_rad=0.0, width_px=20.0, quality=0.9)
    pose = hm.grid.grasp_pose(g, hm.height_m, INTR)
    axes = Rotation.from_quat(pose.quat_xyzw).as_matrix()
    np.testing.assert_allclose(axes[:, 2], -hm.plane.normal, atol=1e-9)   # approach
    assert abs(axes[:, 0] @ hm.plane.normal) < 1e-9                      # closing in plane
    assert truth.height(pose.position_m) == pytest.approx(0.04, abs=0.003)  # on the box top
    assert pose.width_m == pytest.approx(0.04)
    # the centre projects into the image where the box is
    row, col = pose.image_px
    seen = depth[int(round(row)), int(round(col))]
    assert seen == pytest.approx(pose.position_m[2], abs=0.005)


def test_finger_depth_is_the_highest_cell_between_the_fingers_anywhere_in_the_map():
    # the pose reads the highest cell on the 3-cell-thick line between the finger tips in a
    # window around it; against the line drawn on the whole map: grasps across the map,
    # near and over its edges, narrow and wider than the map
    import cv2
    rng = np.random.default_rng(3)
    depth, _ = tilted_table_depth(20.0, 0.6, box=(0.03, 0.05, 0.06))
    hm = make_height_map(depth, INTR, HeightMapSpec())
    h = hm.height_m + rng.uniform(0.0, 0.01, hm.height_m.shape).astype(np.float32)
    size = h.shape[0]
    camera_height = float(-(hm.grid.centre_m @ hm.grid.normal))
    grasps = [Grasp2D(int(r), int(c), float(a), float(w), 0.5) for r, c, a, w in zip(
        rng.integers(0, size, 300), rng.integers(0, size, 300),
        rng.uniform(-np.pi / 2, np.pi / 2, 300), rng.uniform(0.0, 1.5 * size, 300))]
    grasps += [Grasp2D(0, 0, 0.3, 40.0, 0.5), Grasp2D(size - 1, size - 1, -1.2, 9.0, 0.5)]
    for g, pose in zip(grasps, hm.grid.grasp_poses(grasps, h, INTR)):
        mask = np.zeros(h.shape, np.uint8)
        (r0, c0), (r1, c1) = np.rint(g.finger_points()).astype(int)
        cv2.line(mask, (int(c0), int(r0)), (int(c1), int(r1)), 1, thickness=3)
        mask[g.row, g.col] = 1
        assert pose.finger_depth_m == camera_height - float(h[mask.astype(bool)].max())


def test_render_keeps_the_highest_point_of_a_cell_and_marks_unseen_cells_as_table():
    depth, plane = tilted_table_depth(0.0, 0.3)      # a close camera sees less than 45 cm
    grid = HeightMapGrid.facing(plane, INTR, HeightMapSpec())
    pts = np.array([[0.0, 0.0, 0.3], [0.0, 0.0, 0.25]])   # the second 5 cm above the first
    img, out_of_view = render(pts, grid, intrinsics=INTR)
    assert img[112, 112] == pytest.approx(0.05, abs=1e-6) or \
        img[111, 111] == pytest.approx(0.05, abs=1e-6)
    # 640 px at fx 385 from 0.3 m see 0.50 x 0.37 m: cells beyond 0.187 m along rows unseen
    assert out_of_view[0].all() and out_of_view[-1].all() and not out_of_view[112].any()
    assert (img[out_of_view] == 0).all()


def test_empty_depth_is_rejected():
    with pytest.raises(InvalidDepth):
        make_height_map(np.full((480, 640), np.nan, np.float32), INTR, HeightMapSpec())
