"""The opening measured in a height map: extent across the closing direction + clearance,
centred, checked against the stroke, not fooled by occlusion shadows."""

import numpy as np
import pytest

from grasp_seg_ros.core.grasp import Grasp2D
from grasp_seg_ros.core.opening import (OpeningParams, fits, jaw_centre, jaw_centres,
                                        measure_opening, measure_openings)

RES = 0.002
PARAMS = OpeningParams(clearance_m=0.015, max_opening_m=0.085)


def bar_map(height_m=0.025):
    """A bar 12 cm long (columns 80..139) and 2.6 cm wide (rows 100..112)."""
    h = np.zeros((224, 224), np.float32)
    h[100:113, 80:140] = height_m
    return h


def grasp(row, col, angle_deg, width_px=30.0):
    return Grasp2D(row=row, col=col, angle_rad=float(np.radians(angle_deg)), width_px=width_px,
                   quality=0.9)


def test_across_a_bar_the_opening_is_its_width_plus_clearance_and_the_grasp_is_centred():
    # 90 deg closes along the rows: across the bar; the grasp starts off its middle line
    out = measure_opening(bar_map(), grasp(102, 110, 90.0), RES, PARAMS)
    assert out.width_px * RES == pytest.approx(0.026 + 0.015, abs=RES)
    assert out.row == 106 and out.col == 110
    assert out.angle_rad == pytest.approx(np.radians(90.0)) and out.quality == 0.9


def test_along_a_short_bar_the_extent_is_its_length_and_a_long_one_does_not_fit():
    short = bar_map()
    short[:, 110:] = 0.0       # now 6 cm long (columns 80..109)
    out = measure_opening(short, grasp(106, 100, 0.0), RES, PARAMS)
    assert out.width_px * RES == pytest.approx(0.060 + 0.015, abs=RES)
    assert abs(out.col - 94.5) <= 0.5     # the middle of columns 80..109
    assert fits(out, RES, PARAMS)
    # along the 12 cm bar the gripper cannot close on it: wider than the stroke
    along = measure_opening(bar_map(), grasp(106, 100, 0.0), RES, PARAMS)
    assert along.width_px * RES == pytest.approx(0.120 + 0.015, abs=RES)
    assert not fits(along, RES, PARAMS)


def test_a_rounded_top_counts_down_to_half_its_height():
    h = np.zeros((224, 224), np.float32)
    r = 0.02                                         # a lying cylinder, 4 cm across
    x = (np.arange(224) - 112) * RES
    profile = np.where(np.abs(x) <= r, r + np.sqrt(np.clip(r * r - x * x, 0, None)), 0.0)
    h[:, :] = profile[:, None]                        # axis along the columns
    out = measure_opening(h, grasp(110, 112, 90.0), RES, PARAMS)
    assert out.width_px * RES == pytest.approx(0.040 + 0.015, abs=2 * RES)


def test_off_every_object_there_is_nothing_to_measure():
    assert measure_opening(bar_map(), grasp(30, 30, 90.0), RES, PARAMS) is None


def test_an_occlusion_shadow_beside_the_bar_does_not_widen_it_but_a_hole_on_it_is_bridged():
    h = bar_map()
    holes = np.zeros(h.shape, bool)
    holes[113:120, :] = True      # shadow beside the bar, inpainted half-way up
    h[113:120, 80:140] = 0.015
    out = measure_opening(h, grasp(106, 110, 90.0), RES, PARAMS, holes)
    assert out.width_px * RES == pytest.approx(0.026 + 0.015, abs=RES)
    # without the hole mask the inpainted shadow reads as part of the bar
    fat = measure_opening(h, grasp(106, 110, 90.0), RES, PARAMS)
    assert fat.width_px * RES > 0.026 + 0.015 + 0.010
    # a hole in the bar's top (seen on both sides of it) is part of the bar
    h2, holes2 = bar_map(), np.zeros((224, 224), bool)
    holes2[103:106, :] = True
    h2[103:106, :] = 0.0
    out = measure_opening(h2, grasp(108, 110, 90.0), RES, PARAMS, holes2)
    assert out.width_px * RES == pytest.approx(0.026 + 0.015, abs=RES)


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="mode"):
        OpeningParams(mode="guess").validate()
    with pytest.raises(ValueError, match="below the maximum opening"):
        OpeningParams(clearance_m=0.1, max_opening_m=0.085).validate()


def test_the_jaw_centre_is_the_middle_of_the_object_along_the_jaws():
    # closing across the bar (90 deg: along the rows), the jaws lie along it: from a grasp
    # near its left end, the middle of its 12 cm (columns 80..139) along the jaws
    row, col = jaw_centre(bar_map(), grasp(106, 85, 90.0), RES, PARAMS)
    assert row == 106 and abs(col - 109.5) <= 0.5
    # closing along the bar, the jaws lie across it: the middle of its 2.6 cm (rows 100..112)
    row, col = jaw_centre(bar_map(), grasp(101, 85, 0.0), RES, PARAMS)
    assert row == 106 and col == 85
    assert jaw_centre(bar_map(), grasp(30, 30, 90.0), RES, PARAMS) is None


def test_openings_measured_at_once_are_those_measured_one_by_one():
    # the decoder's fallback spots measure every rated direction of a spot in one pass: the
    # same openings and centres as one direction at a time, off objects, across holes and at
    # the map's edge included
    rng = np.random.default_rng(7)
    h = np.zeros((224, 224), np.float32)
    for _ in range(12):   # boxes of random size and height, some touching
        r, c = rng.integers(0, 200, 2)
        h[r:r + rng.integers(5, 40), c:c + rng.integers(5, 40)] = rng.uniform(0.01, 0.12)
    holes = rng.random(h.shape) < 0.05
    h[holes] = 0.0
    angles = np.radians(np.arange(-90, 90, 15) + 3.0)
    cells = [(int(r), int(c)) for r, c in rng.integers(0, 224, (40, 2))] + [(0, 0), (223, 5)]
    compared = on_something = 0
    for r, c in cells:
        ways = [Grasp2D(r, c, float(a), 30.0, 0.5) for a in angles]
        for hole_mask in (None, holes):
            together = measure_openings(h, ways, RES, PARAMS, hole_mask)
            alone = [measure_opening(h, g, RES, PARAMS, hole_mask) for g in ways]
            assert together == alone
            compared += len(ways)
            on_something += sum(m is not None for m in alone)
    assert on_something > compared // 10      # the comparison saw real measurements
    # the decoder also measures the peaks' best directions, at many cells, in one pass, and
    # finds their objects' middles along the jaws so
    many = [Grasp2D(r, c, float(a), 30.0, 0.5)
            for (r, c), a in zip(cells, rng.choice(angles, len(cells)))]
    for hole_mask in (None, holes):
        assert measure_openings(h, many, RES, PARAMS, hole_mask) == \
            [measure_opening(h, g, RES, PARAMS, hole_mask) for g in many]
        centres = jaw_centres(h, many, RES, PARAMS, hole_mask)
        assert centres == [jaw_centre(h, g, RES, PARAMS, hole_mask) for g in many]
        assert sum(c is not None for c in centres) > len(many) // 10
    assert measure_openings(h, [], RES, PARAMS) == [] and jaw_centres(h, [], RES, PARAMS) == []
