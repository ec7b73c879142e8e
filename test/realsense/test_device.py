"""pyrealsense2 capture and recordings, on recordings made here with its software device.

No camera is connected to this machine, so the recordings come from librealsense's own
software device and recorder (the code path a camera's frames take into a file); playback,
filters and unit conversion run for real.
"""

from pathlib import Path

import numpy as np
import pytest

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.realsense.device import (FilterConfig, LiveSource, PlaybackSource,
                                            RealSenseError, SourceConfig, import_pyrealsense2,
                                            open_source, recording_suffixes, to_millimetres)
from grasp_seg_ros.realsense.recording import write_recording

INTR = CameraIntrinsics(fx=386.25, fy=385.5, cx=321.75, cy=238.5, width=64, height=48)
COEFFS = (0.125, -0.0625, 0.001, -0.002, 0.01)


def frames(n, units_m=0.0001):
    """Frame i: a ramp of raw values (metres = (2000 + 10 * (col + i)) * units), a hole."""
    out = []
    for i in range(n):
        raw = (2000 + 10 * (np.arange(INTR.width) + i)).astype(np.uint16)
        raw = np.tile(raw, (INTR.height, 1))
        raw[10:20, 10:20] = 0
        out.append(raw)
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "ramp.db3"
    n = write_recording(path, frames(12), INTR, depth_units_m=0.0001, fps=30, coeffs=COEFFS,
                        paced=False)
    assert n == 12 and path.stat().st_size > 0
    return path


def play(path, **kwargs):
    with open_source(SourceConfig(playback_file=path, realtime=False, **kwargs)) as src:
        return list(src.frames())


def test_playback_gives_every_frame_in_millimetres_with_intrinsics(recording):
    got = play(recording)
    assert [f.frame_number for f in got] == list(range(12))
    for i, frame in enumerate(got):
        expected_mm = frames(12)[i] // 10          # raw units of 0.1 mm -> mm, exactly
        assert frame.depth_mm.dtype == np.uint16
        np.testing.assert_array_equal(frame.depth_mm, expected_mm)
        assert frame.depth_units_m == pytest.approx(0.0001, rel=1e-6)
    intr = got[0].intrinsics
    assert intr.pinhole.width == 64 and intr.pinhole.height == 48
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(intr.pinhole, name) == pytest.approx(getattr(INTR, name), rel=1e-6)
    assert intr.distortion_model == "plumb_bob"
    assert intr.coeffs == pytest.approx(COEFFS, rel=1e-6)


def test_realtime_playback_ends_by_itself(tmp_path):
    path = tmp_path / "paced.db3"
    write_recording(path, frames(6), INTR, fps=30, paced=True)
    with open_source(SourceConfig(playback_file=path, realtime=True)) as src:
        got = list(src.frames())
        assert src.finished()
    assert 1 <= len(got) <= 6


def test_loop_replays_past_the_end(recording):
    with open_source(SourceConfig(playback_file=recording, realtime=False,
                                  loop=True)) as src:
        numbers = []
        for frame in src.frames():
            numbers.append(frame.frame_number)
            if len(numbers) == 30:
                break
    assert len(numbers) == 30 and numbers.count(0) >= 2


def test_decimation_halves_image_and_intrinsics(recording):
    got = play(recording, filters=FilterConfig(decimation=2))
    intr = got[0].intrinsics.pinhole
    assert got[0].depth_mm.shape == (24, 32)
    assert (intr.width, intr.height) == (32, 24)
    assert intr.fx == pytest.approx(INTR.fx / 2, rel=1e-6)
    assert intr.fy == pytest.approx(INTR.fy / 2, rel=1e-6)


def test_threshold_zeroes_depth_beyond_max(recording):
    frame = play(recording, filters=FilterConfig(min_distance_m=0.1, max_distance_m=0.25))[0]
    metres = frames(1)[0] * 0.0001
    assert np.all(frame.depth_mm[metres > 0.2505] == 0)
    inside = (metres > 0.1) & (metres < 0.2495)
    np.testing.assert_array_equal(frame.depth_mm[inside], (frames(1)[0] // 10)[inside])


def test_hole_filling_fills_the_hole(recording):
    frame = play(recording, filters=FilterConfig(hole_filling=1))[0]
    assert np.all(frame.depth_mm[10:20, 10:20] > 0)


def test_the_config_picks_the_source():
    assert type(open_source(SourceConfig(playback_file=Path("x.db3")))) is PlaybackSource
    assert type(open_source(SourceConfig(serial="1"))) is LiveSource


def test_missing_recording_names_the_file(tmp_path):
    missing = tmp_path / "nothing_here.db3"
    with pytest.raises(RealSenseError, match="nothing_here.db3"):
        open_source(SourceConfig(playback_file=missing)).start()


def test_unsupported_recording_format_says_what_is_read(tmp_path):
    accepted = recording_suffixes(import_pyrealsense2())
    wrong = tmp_path / ("old.bag" if ".db3" in accepted else "new.db3")
    wrong.write_bytes(b"not a recording")
    with pytest.raises(RealSenseError, match="reads only"):
        open_source(SourceConfig(playback_file=wrong)).start()


def test_corrupt_recording_is_a_clear_error(tmp_path):
    bad = tmp_path / "corrupt.db3"
    bad.write_bytes(b"\x00" * 4096)
    with pytest.raises(RealSenseError, match="corrupt.db3"):
        open_source(SourceConfig(playback_file=bad)).start()


def test_missing_device_names_the_serial():
    # no camera is attached to this machine; with one attached, the serial still matches none
    with pytest.raises(RealSenseError, match="123-no-such-serial"):
        open_source(SourceConfig(serial="123-no-such-serial")).start()


def test_filter_config_rejects_bad_values():
    with pytest.raises(ValueError, match="decimation"):
        FilterConfig(decimation=9).validate()
    with pytest.raises(ValueError, match="min_distance"):
        FilterConfig(min_distance_m=2.0, max_distance_m=1.0).validate()


def test_to_millimetres():
    raw = np.array([[0, 1, 65535]], np.uint16)
    np.testing.assert_array_equal(to_millimetres(raw, 0.001), raw)
    np.testing.assert_array_equal(to_millimetres(np.array([[0, 15, 25]], np.uint16), 0.0001),
                                  [[0, 2, 2]])  # rounds half to even
    np.testing.assert_array_equal(to_millimetres(np.array([[0, 30000]], np.uint16), 0.01),
                                  [[0, 65535]])  # clipped, not wrapped
    with pytest.raises(RealSenseError):
        to_millimetres(raw, 0.0)


def test_recording_rejects_frames_of_the_wrong_size(tmp_path):
    with pytest.raises(RealSenseError, match="32x48"):
        write_recording(tmp_path / "x.db3", [np.zeros((48, 32), np.uint16)], INTR, paced=False)
