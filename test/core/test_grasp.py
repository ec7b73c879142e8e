import cv2
import numpy as np
import pytest

from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import (DecodeParams, GraspMaps, OutputScaling,
                                      angle_difference, angle_from_cos_sin, angle_to_bins,
                                      detect_grasps, encode_angle, filter_maps, find_peaks,
                                      maps_from_raw, spread_cells)


def test_angle_encode_decode_round_trip():
    angles = np.linspace(-np.pi / 2, np.pi / 2, 181, endpoint=False)
    decoded = angle_from_cos_sin(*encode_angle(angles))
    assert ((decoded >= -np.pi / 2) & (decoded <= np.pi / 2)).all()
    assert angle_difference(decoded, angles).max() < 1e-5


def test_angle_difference_is_half_turn_symmetric():
    assert angle_difference(np.pi / 2, -np.pi / 2) == pytest.approx(0.0)
    assert angle_difference(0.1, np.pi - 0.1) == pytest.approx(0.2)
    assert angle_difference(0.0, np.pi / 2) == pytest.approx(np.pi / 2)


def test_angle_is_a_half_turn_symmetric():
    a = np.float32(0.3)
    np.testing.assert_allclose(angle_from_cos_sin(*encode_angle(a + np.pi)), a, atol=1e-5)


def test_width_encode_decode_round_trip():
    s = OutputScaling(150.0)
    w = np.array([0.0, 10.0, 75.0, 149.0], np.float32)
    np.testing.assert_allclose(s.decode_width(s.encode_width(w)), w, rtol=1e-6)


def _maps_with_peaks(peaks):
    q = np.zeros((100, 100), np.float32)
    for (r, c), v in peaks:
        q[r, c] = v
    return GraspMaps.from_angle(q, np.zeros_like(q), np.full_like(q, 20.0))


def test_peaks_are_sorted_and_kept_apart():
    maps = _maps_with_peaks([((10, 10), 0.5), ((12, 12), 0.9), ((50, 60), 0.7)])
    peaks = find_peaks(maps.quality, threshold=0.1, min_distance_px=5, max_peaks=5)
    assert peaks.tolist() == [[12, 12], [50, 60]]


def test_spread_cells_are_best_first_apart_and_need_not_be_peaks():
    # a ramp has one peak (its top corner); spread cells go down its flank, kept apart from
    # each other and from the cells already taken, and stop at the threshold
    r, c = np.mgrid[0:40, 0:40]
    ramp = (1.0 - 0.005 * r - 0.02 * c).astype(np.float32)     # its top: (0, 0)
    assert len(find_peaks(ramp, threshold=0.1, min_distance_px=3, max_peaks=50)) == 1
    cells = spread_cells(ramp, threshold=0.5, spacing_px=3, max_cells=1000, taken=[(0, 0)])
    q = ramp[cells[:, 0], cells[:, 1]]
    assert (np.diff(q) <= 0).all() and (q > 0.5).all()
    assert [0, 0] not in cells.tolist()
    gaps = np.abs(cells[:, None, :] - np.vstack([cells, [[0, 0]]])[None, :, :]).max(axis=2)
    assert (gaps[~np.eye(len(cells), len(cells) + 1, dtype=bool)] >= 3).all()
    # every cell above the threshold is within the spacing of one picked (nothing missed)
    above = np.argwhere(ramp > 0.5)
    near = np.abs(above[:, None, :] - np.vstack([cells, [[0, 0]]])[None]).max(axis=2).min(1)
    assert (near < 3).all()
    assert len(spread_cells(ramp, threshold=0.5, spacing_px=3, max_cells=4)) == 4


def test_tracking_prefers_the_peak_nearest_the_previous_grasp():
    maps = _maps_with_peaks([((20, 20), 0.9), ((80, 80), 0.8)])
    params = DecodeParams(top_k=5, peak_min_distance_px=5, quality_threshold=0.1)
    assert (detect_grasps(maps, params)[0].row, detect_grasps(maps, params)[0].col) == (20, 20)
    tracked = detect_grasps(maps, params, previous_px=(78.0, 83.0))
    assert (tracked[0].row, tracked[0].col) == (80, 80) and len(tracked) == 2


def test_empty_map_raises_no_grasp_found():
    with pytest.raises(NoGraspFound, match="no quality peak above 0.100"):
        detect_grasps(_maps_with_peaks([]), DecodeParams(quality_threshold=0.1))


def test_filtering_decodes_angle_and_width():
    shape = (60, 60)
    q = np.zeros(shape, np.float32)
    q[25:35, 25:35] = 1.0
    cos2, sin2 = encode_angle(np.full(shape, 0.4, np.float32))
    width_raw = np.full(shape, 30.0 / 150.0, np.float32)
    maps = filter_maps(q, cos2, sin2, width_raw, OutputScaling(150.0), DecodeParams())
    g = detect_grasps(maps, DecodeParams())[0]
    assert (g.row, g.col) in {(29, 29), (29, 30), (30, 29), (30, 30)}
    assert g.angle_rad == pytest.approx(0.4, abs=1e-4) and g.width_px == pytest.approx(30.0)


def test_peak_dilation_matches_scipy_maximum_filter():
    from scipy import ndimage
    rng = np.random.default_rng(3)
    q = np.round(rng.random((120, 90)), 1).astype(np.float32)   # plateaus of equal values
    for distance in (0, 1, 5, 10):
        size = 2 * distance + 1
        expected = ndimage.maximum_filter(q, size=size, mode="nearest")
        got = cv2.dilate(q, np.ones((size, size), np.uint8), borderType=cv2.BORDER_REPLICATE)
        np.testing.assert_array_equal(got, expected)


def test_angle_at_a_pixel_equals_the_decoded_map():
    rng = np.random.default_rng(4)
    angle = rng.uniform(-np.pi / 2, np.pi / 2, (30, 40)).astype(np.float32)
    maps = GraspMaps.from_angle(np.zeros_like(angle), angle, np.zeros_like(angle))
    np.testing.assert_allclose(maps.angle_rad, angle, atol=1e-5)
    assert maps.angle_at(7, 9) == pytest.approx(float(angle[7, 9]), abs=1e-5)


@pytest.mark.parametrize("bins", [12, 18])
def test_binned_maps_decode_the_direction_shared_between_two_bins(bins):
    scaling = OutputScaling(width_scale_px=50.0, angle_bins=bins)
    for deg in (-90.0, -89.0, -37.5, 0.0, 20.0, 44.0, 88.0):
        raw = np.zeros((bins + 1, 40, 40), np.float32)
        for k, w in angle_to_bins(np.radians(deg), bins):
            raw[k, 15:26, 15:26] = 0.8 * w
        raw[bins] = 0.5
        maps = maps_from_raw(raw, scaling, DecodeParams())
        assert np.degrees(angle_difference(maps.angle_at(20, 20), np.radians(deg))) < 0.01
        assert maps.width_px[20, 20] == pytest.approx(25.0)
        assert maps.quality[20, 20] > maps.quality[2, 2]


def test_binned_angle_read_at_a_cell_equals_the_whole_map():
    """Binned maps decode the angle where it is read; the whole-map decoding agrees."""
    rng = np.random.default_rng(5)
    raw = rng.uniform(-0.1, 1.0, (13, 30, 40)).astype(np.float32)
    raw[:12, :5] = np.round(raw[:12, :5] * 2) / 2        # equal bins: the first one wins
    maps = maps_from_raw(raw, OutputScaling(50.0, 12), DecodeParams())
    whole = maps.angle_rad
    assert whole.shape == (30, 40) and whole.dtype == np.float32
    for row, col in rng.integers(0, (30, 40), (60, 2)):
        assert maps.angle_at(row, col) == whole[row, col]
    np.testing.assert_array_equal(maps.quality, maps.bins.max(axis=0))


def test_binned_maps_are_the_same_from_a_channels_last_backend_output():
    """The optimised CPU backend answers channels-last in memory; those maps are filtered in
    one OpenCV call, and must equal the channel-by-channel path bit for bit (the published
    angles, and the simulated trials that follow them, depend on the last bit)."""
    rng = np.random.default_rng(11)
    chw = rng.uniform(-0.1, 1.0, (13, 48, 40)).astype(np.float32)
    hwc = np.ascontiguousarray(chw.transpose(1, 2, 0)).transpose(2, 0, 1)
    assert hwc.transpose(1, 2, 0).flags.c_contiguous and not hwc.flags.c_contiguous
    for params in (DecodeParams(), DecodeParams(quality_sigma_px=1.5, width_sigma_px=0.0)):
        a = maps_from_raw(chw, OutputScaling(50.0, 12), params)
        b = maps_from_raw(hwc, OutputScaling(50.0, 12), params)
        for name in ("quality", "width_px", "bins"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        k = 2 * int(4.0 * params.quality_sigma_px + 0.5) + 1    # +-4 sigma, as decoding
        expected = np.stack([cv2.GaussianBlur(chw[i], (k, k), params.quality_sigma_px,
                                              borderType=cv2.BORDER_REFLECT)
                             for i in range(12)])
        np.testing.assert_allclose(b.bins, expected, atol=1e-6)   # bin i is channel i
        assert b.angle_at(20, 17) == a.angle_at(20, 17)


def test_binned_maps_pick_the_better_of_two_directions_not_their_average():
    raw = np.zeros((13, 30, 30), np.float32)
    raw[0, 10:20, 10:20] = 0.9      # -90 deg: the better direction
    raw[6, 10:20, 10:20] = 0.6      # 0 deg: also fine, worse
    maps = maps_from_raw(raw, OutputScaling(50.0, 12), DecodeParams())
    assert np.degrees(angle_difference(maps.angle_at(15, 15), -np.pi / 2)) < 1.0
    with pytest.raises(ValueError, match="channels"):
        maps_from_raw(raw[:5], OutputScaling(50.0, 12), DecodeParams())


def test_directions_at_a_cell_are_every_rated_bin_best_first():
    raw = np.zeros((13, 30, 30), np.float32)
    raw[0, 10:20, 10:20] = 0.9      # -90 deg, the best
    raw[1, 10:20, 10:20] = 0.5      # its flank: stays at its bin centre (-75 deg)
    raw[6, 10:20, 10:20] = 0.6      # 0 deg, a second peak
    raw[9, 10:20, 10:20] = 0.05     # 45 deg, below the threshold
    maps = maps_from_raw(raw, OutputScaling(50.0, 12), DecodeParams(quality_sigma_px=0.0))
    dirs = maps.directions_at(15, 15, threshold=0.1)
    assert [round(q, 3) for _, q in dirs] == [0.9, 0.6, 0.5]
    assert dirs[0][0] == maps.angle_at(15, 15)                  # the refined best
    assert np.degrees(angle_difference(dirs[1][0], 0.0)) < 1e-4
    assert np.degrees(angle_difference(dirs[2][0], np.radians(-75.0))) < 1e-4
    # a head without bins has its one direction
    cos_sin = GraspMaps.from_angle(np.full((4, 4), 0.7, np.float32),
                                   np.full((4, 4), 0.3, np.float32),
                                   np.ones((4, 4), np.float32))
    [(angle, quality)] = cos_sin.directions_at(1, 1, threshold=0.1)
    assert angle == pytest.approx(0.3, abs=1e-6) and quality == pytest.approx(0.7)
