"""Decoding height-map grasps: where along an object a grasp is placed."""

import numpy as np
import pytest

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import DecodeParams, OutputScaling
from grasp_seg_ros.core.heightmap import HeightMapSpec, make_height_map
from grasp_seg_ros.core.opening import OpeningParams
from grasp_seg_ros.inference.decoding import decode

INTR = CameraIntrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
SCALING = OutputScaling(50.0, 12)


def bar_height_map():
    """A table at 0.6 m and a bar 10 cm high, 3.1 cm wide and 18 cm long along the image's
    columns, as a 224 x 2 mm height map."""
    depth = np.full((480, 640), 0.60, np.float32)
    depth[230:254, 250:390] = 0.50
    pre = make_height_map(depth, INTR, HeightMapSpec(224, 0.002))
    on_bar = pre.height_m > 0.05
    cols = np.flatnonzero(on_bar.any(axis=0))
    return pre, on_bar, cols


def raw_rating_one_end(on_bar, cols, far_end_quality):
    """Raw binned maps rating the bin that closes across the bar (bin 0, -90 deg: along the
    rows) on the bar, falling linearly from 0.9 at its first column to ``far_end_quality``
    at its last: the best spot is at the bar's end."""
    raw = np.zeros((13, 224, 224), np.float32)
    t = (np.arange(224) - cols[0]) / (cols[-1] - cols[0])
    ramp = 0.9 + (far_end_quality - 0.9) * np.clip(t, 0.0, 1.0)
    raw[0] = np.where(on_bar, ramp[None, :], 0.0)
    raw[12] = 0.3
    return raw


@pytest.mark.parametrize("centre", [False, True])
def test_a_grasp_is_moved_to_the_middle_of_a_long_object_along_the_jaws(centre):
    pre, on_bar, cols = bar_height_map()
    raw = raw_rating_one_end(on_bar, cols, far_end_quality=0.7)
    opening = OpeningParams(centre_along_jaws=centre)
    _, poses = decode(raw, pre, INTR, SCALING, DecodeParams(top_k=1), opening=opening)
    g = poses[0].grasp_2d
    middle = 0.5 * (cols[0] + cols[-1])
    assert abs(np.sin(g.angle_rad)) > 0.99                  # still across the bar
    if centre:
        assert abs(g.col - middle) <= 1.5
        assert poses[0].width_m == pytest.approx(0.031 + 0.015, abs=0.005)
    else:
        assert g.col - cols[0] < 0.25 * (cols[-1] - cols[0])  # near the rated end


def test_a_grasp_stays_where_the_model_rates_the_middle_below_half_its_spot():
    pre, on_bar, cols = bar_height_map()
    raw = raw_rating_one_end(on_bar, cols, far_end_quality=-0.2)  # the middle: 0.35
    opening = OpeningParams(centre_along_jaws=True)
    _, poses = decode(raw, pre, INTR, SCALING, DecodeParams(top_k=1), opening=opening)
    assert poses[0].grasp_2d.col - cols[0] < 0.25 * (cols[-1] - cols[0])


def test_a_measured_grasp_stays_inside_the_allowed_region():
    # the workspace box and the mask hold the peaks; centring a grasp on its object must not
    # carry it out of them: along the jaws it stays where it was
    pre, on_bar, cols = bar_height_map()
    raw = raw_rating_one_end(on_bar, cols, far_end_quality=0.7)
    allowed = np.zeros(on_bar.shape, bool)
    allowed[:, :cols[0] + (cols[-1] - cols[0]) // 4] = True      # the bar's first quarter
    _, poses = decode(raw, pre, INTR, SCALING, DecodeParams(top_k=3), allowed=allowed,
                      opening=OpeningParams(centre_along_jaws=True))
    for p in poses:
        assert allowed[p.grasp_2d.row, p.grasp_2d.col]
        assert abs(np.sin(p.grasp_2d.angle_rad)) > 0.99
    # across the bar: only its top rows allowed, the grasp centred across it would leave
    # them, and along the bar it does not fit the stroke: no grasp, and the reason says so
    rows = np.flatnonzero(on_bar.any(axis=1))
    top_rows = np.zeros(on_bar.shape, bool)
    top_rows[rows[0]:rows[0] + 3] = True
    with pytest.raises(NoGraspFound, match="leave the allowed region"):
        decode(raw, pre, INTR, SCALING, DecodeParams(top_k=1), allowed=top_rows,
               opening=OpeningParams(centre_along_jaws=False))


def box_and_bar_height_map():
    """A table at 0.6 m, a box 5 cm high and about 12 cm square (wider than the stroke every
    way) and, beside it, a bar 5 cm high, 3 cm wide and 8 cm long, as a 224 x 2 mm height map;
    (the map, the box's cells, the bar's cells)."""
    depth = np.full((480, 640), 0.60, np.float32)
    depth[198:282, 200:284] = 0.55        # the box, ~12 cm at 0.55 m
    depth[212:268, 330:352] = 0.55        # the bar, ~3 x 8 cm, closing across it: along cols
    pre = make_height_map(depth, INTR, HeightMapSpec(224, 0.002))
    on = pre.height_m > 0.03
    cols = np.flatnonzero(on.any(axis=0))
    gap = cols[np.flatnonzero(np.diff(cols) > 1)[0]]      # the box's last column
    box, bar = on.copy(), on.copy()
    box[:, gap + 1:] = False
    bar[:, :gap + 1] = False
    return pre, box, bar


def raw_one_hill_on_the_box(box):
    """Raw binned maps rating one direction, closing along the columns (bin 6, 0 deg: across
    the bar, along the box's 12 cm), on a ridge from the box's middle towards the bar,
    falling off along it (0.9 there, above 0.6 on the bar's middle) and steeply across it:
    the only peak is on the box, and no spot of the bar is a peak."""
    rows, cols = np.nonzero(box)
    r, c = np.mgrid[0:224, 0:224]
    raw = np.zeros((13, 224, 224), np.float32)
    raw[6] = 0.9 - 0.004 * np.abs(c - cols.mean()) - 0.03 * np.abs(r - rows.mean())
    raw[12] = 0.3
    return raw


def test_when_no_peak_fits_the_stroke_the_next_rated_spots_are_tried():
    # objects pressed together or in a tray's corner: the peak's object is wider than the
    # stroke; a lower-rated spot (not a peak) on an object that fits is published
    pre, box, bar = box_and_bar_height_map()
    raw = raw_one_hill_on_the_box(box)
    opening = OpeningParams(centre_along_jaws=True)
    with pytest.raises(NoGraspFound, match="all 1 candidate grasps need a wider opening"):
        decode(raw, pre, INTR, SCALING, DecodeParams(top_k=1, fallback_spots=0),
               opening=opening)
    # the box's spots nearer the hill's top come first: enough spots to reach the bar
    _, poses = decode(raw, pre, INTR, SCALING, DecodeParams(top_k=1, fallback_spots=400),
                      opening=opening)
    g = poses[0].grasp_2d
    assert bar[g.row, g.col]
    assert abs(np.cos(g.angle_rad)) > 0.99           # across the bar
    assert poses[0].width_m == pytest.approx(0.03 + opening.clearance_m, abs=0.006)
    # no spot rated above the threshold fits: the reason counts the spots tried too
    with pytest.raises(NoGraspFound, match=r"all 1 candidate grasps and \d+ more spots"):
        decode(raw, pre, INTR, SCALING,
               DecodeParams(top_k=1, quality_threshold=0.7, fallback_spots=400),
               opening=opening)
