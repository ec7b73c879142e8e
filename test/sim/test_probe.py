"""The angle probe and the cameras it uses (real PyBullet renders, real predictors)."""

import cv2
import numpy as np
import pybullet
import pytest

from grasp_seg_ros.core.resources import DEFAULT_MODEL, shipped_models
from grasp_seg_ros.inference.baseline import HeightMapBaseline, HighestObjectBaseline
from grasp_seg_ros.sim.camera import (CAMERA_MODELS, CameraConfig, camera_model, random_camera,
                                      render)
from grasp_seg_ros.sim.probe import (PROBE_OBJECTS, SHAPE_OBJECTS, ProbeCamera, _inside,
                                     extent_along, main, narrowest_error_deg, run_probe,
                                     summarise_probe)

TOP_DOWN = (ProbeCamera(0.5, 0.0), ProbeCamera(0.8, 0.0))


@pytest.fixture(scope="module")
def probes():
    objects = tuple(o for o in PROBE_OBJECTS if o.name in ("box_10x3x4", "bar_18", "plate_12x6"))
    return {closing: summarise_probe(run_probe(HighestObjectBaseline(closing=closing),
                                               objects=objects, cameras=TOP_DOWN, yaws=6,
                                               progress=False))
            for closing in ("minor", "major")}


def test_probe_separates_a_known_good_from_a_known_bad_predictor(probes):
    good, bad = probes["minor"]["overall"], probes["major"]["overall"]
    assert good["views"] == bad["views"] == 3 * 6 * 2
    # both find the objects; only the closing direction differs
    assert good["on_object"] >= 0.9 and bad["on_object"] >= 0.9
    assert good["median_error_deg"] < 10.0 and good["within_20deg"] >= 0.9, good
    assert bad["median_error_deg"] > 70.0 and bad["within_20deg"] <= 0.1, bad
    # closing along the long axis opens far wider than the object across
    assert good["width_within_1p5cm"] > bad["width_within_1p5cm"] + 0.5


def test_probe_groups_by_object_and_camera(probes):
    summary = probes["minor"]
    assert set(summary["by_object"]) == {"box_10x3x4", "bar_18", "plate_12x6"}
    assert set(summary["by_camera"]) == {"h0.50_t0", "h0.80_t0"}
    assert set(summary["by_camera_kind"]) <= {"d435", "d405", "l515"}
    assert sum(g["views"] for g in summary["by_object"].values()) == 36


def test_probe_command_writes_its_outputs(tmp_path):
    main(["--model", "baseline", "--yaws", "2", "--heights", "0.6", "--tilts", "0", "20",
          "--out", str(tmp_path)])
    assert len((tmp_path / "probe_baseline.csv").read_text().splitlines()) == 1 + 7 * 2 * 2
    assert (tmp_path / "probe_baseline.png").stat().st_size > 0
    assert "by_camera" in (tmp_path / "probe_baseline.json").read_text()
    main(["--model", "baseline_heightmap", "--objects", "shapes", "--yaws", "1", "--heights",
          "0.6", "--tilts", "0", "--out", str(tmp_path)])
    lines = (tmp_path / "probe_shapes_baseline_heightmap.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == [o.name for o in SHAPE_OBJECTS]
    # one drawn view per object and orientation: three tiles in a row of twelve
    sheet = cv2.imread(str(tmp_path / "probe_shapes_baseline_heightmap_views.png"))
    assert sheet.shape == (126, 12 * 126, 3)
    assert sheet[:, :3 * 126].std() > 10 and sheet[:, 3 * 126:].max() == 0


def _piece_by_sampling(rects, centre, yaw, step=1e-4):
    """The run of footprint samples along the line that holds the centre (reference)."""
    t = np.arange(-0.3, 0.3, step)
    inside = _inside(rects, centre + t[:, None] * [np.cos(yaw), np.sin(yaw)], 1e-5)
    lo = hi = int(np.argmin(np.abs(t)))
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < len(t) - 1 and inside[hi + 1]:
        hi += 1
    return t[hi] - t[lo]


def test_the_shapes_piece_and_narrowest_direction_follow_the_geometry():
    el, tee, vee = SHAPE_OBJECTS
    rects = el.footprint(0.0, (0.0, 0.0))          # arms along +x (y = -3.75 cm) and +y
    on_arm = np.array([0.02, -0.0375])
    assert extent_along(rects, on_arm, [np.pi / 2, 0.0]) == pytest.approx([0.025, 0.12])
    assert narrowest_error_deg(rects, on_arm, np.pi / 2) == 0.0      # across the arm
    assert narrowest_error_deg(rects, on_arm, 0.0) == 90.0           # along it
    corner = np.array([-0.0475, -0.0375])
    # in the corner both diagonals are the narrowest cuts; across either arm runs along the other
    assert narrowest_error_deg(rects, corner, np.pi / 4) == 0.0
    assert narrowest_error_deg(rects, corner, 3 * np.pi / 4) == 0.0
    assert narrowest_error_deg(rects, corner, np.pi / 2) == 45.0
    # across one arm of the V near its apex the line runs on into the other arm; midway
    # along the arm it meets the other arm only past a gap, which the fingers do not clamp
    arm = np.radians(30.0)
    mid = np.array([0.0, 0.0275])
    near_apex = mid - 0.04 * np.array([np.cos(arm), np.sin(arm)])
    rects = vee.footprint(0.0, (0.0, 0.0))
    assert extent_along(rects, mid, arm + np.pi / 2)[0] == pytest.approx(0.025)
    assert extent_along(rects, near_apex, arm + np.pi / 2)[0] > 0.05
    rng = np.random.default_rng(0)
    for obj in SHAPE_OBJECTS:
        rects = obj.footprint(rng.uniform(0, np.pi), tuple(rng.uniform(-0.02, 0.02, 2)))
        for _ in range(40):
            centre, yaw = rng.uniform(-0.07, 0.07, 2), rng.uniform(0, np.pi)
            if _inside(rects, centre):
                assert extent_along(rects, centre, yaw)[0] == pytest.approx(
                    _piece_by_sampling(rects, centre, yaw), abs=5e-4), obj.name


@pytest.mark.skipif(DEFAULT_MODEL not in shipped_models(), reason="no shipped default model")
def test_the_shapes_probe_fails_the_principal_axis_rule_and_not_the_default_model():
    """On L, T and V shapes the rule that the primitives cannot tell from a network (the
    height-map baseline) aims at the centroid, off the object, or across no arm."""
    from grasp_seg_ros.inference.detector import GraspDetector
    cameras = (ProbeCamera(0.6, 0.0), ProbeCamera(0.45, 25.0))
    runs = {name: summarise_probe(run_probe(predictor, objects=SHAPE_OBJECTS, cameras=cameras,
                                            yaws=3, progress=False))["overall"]
            for name, predictor in (("rule", HeightMapBaseline()),
                                    ("model", GraspDetector(DEFAULT_MODEL, device="cpu")))}
    rule, model = runs["rule"], runs["model"]
    assert rule["views"] == model["views"] == 3 * 3 * 2
    assert rule["median_error_deg"] > 60.0 and rule["within_20deg"] <= 0.3, rule
    assert model["median_error_deg"] < 15.0 and model["within_20deg"] >= 0.8, model
    assert model["on_object"] >= 0.9 > rule["on_object"]


@pytest.mark.parametrize("camera", [
    CameraConfig(),
    camera_model("l515", height_m=0.5, tilt_deg=30.0, azimuth_deg=40.0),
    camera_model("d435", "848x480", height_m=0.9, tilt_deg=20.0, azimuth_deg=200.0),
    camera_model("d405", height_m=0.3, tilt_deg=35.0, azimuth_deg=300.0)])
def test_rendered_depth_agrees_with_the_camera_pose(camera):
    cid = pybullet.connect(pybullet.DIRECT)
    try:
        table = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[2, 2, 0.01],
                                              physicsClientId=cid)
        pybullet.createMultiBody(0.0, table, basePosition=[0, 0, -0.01], physicsClientId=cid)
        box = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[0.015] * 3,
                                            physicsClientId=cid)
        pybullet.createMultiBody(0.0, box, basePosition=[0.07, -0.06, 0.015],
                                 physicsClientId=cid)
        depth, seg = render(camera, cid)
    finally:
        pybullet.disconnect(cid)
    assert depth.shape == (camera.height, camera.width)
    # the box's top centre and table points: projected through the pose and intrinsics,
    # the rendered depth there is their distance along the optical axis
    points = np.array([[0.07, -0.06, 0.03], [0.0, 0.0, 0.0], [-0.08, 0.07, 0.0]])
    in_camera = camera.world_to_camera(points)
    pixels = camera.intrinsics().point_to_pixel(in_camera)
    for (row, col), z in zip(pixels, in_camera[:, 2]):
        assert depth[int(round(row)), int(round(col))] == pytest.approx(z, abs=0.004)
    assert camera.camera_to_world(in_camera) == pytest.approx(points)
    # the target is the image centre, and the camera is height_m above the table
    assert pixels[1] == pytest.approx([camera.cy, camera.cx], abs=0.5)
    assert camera.eye_m[2] == pytest.approx(camera.height_m)
    tilt = np.degrees(np.arccos(-camera.rotation[:, 2] @ [0, 0, 1]))
    assert tilt == pytest.approx(camera.tilt_deg, abs=1e-6)


def test_random_cameras_cover_the_real_kinds_heights_and_tilts():
    rng = np.random.default_rng(0)
    cams = [random_camera(rng)[0] for _ in range(200)]
    assert {c.name for c in cams} == set(CAMERA_MODELS)
    assert {(c.width, c.height) for c in cams} >= {(640, 480), (848, 480)}
    heights = [c.height_m for c in cams]
    tilts = [c.tilt_deg for c in cams]
    assert 0.3 <= min(heights) < 0.4 and 0.9 < max(heights) <= 1.0
    assert min(tilts) == 0.0 and 30.0 < max(tilts) <= 35.0
    with pytest.raises(ValueError, match="known"):
        camera_model("d999")
    with pytest.raises(ValueError, match="848x480"):
        camera_model("l515", "848x480")
