"""The detector node's frame statistics, without DDS."""

from grasp_seg_ros.core.stats import FrameStats


def test_diagnostic_follows_the_node_state():
    stats = FrameStats()
    ok, message, values = stats.diagnostic(100.0, camera_info=False)
    assert not ok and message == "no valid CameraInfo"
    ok, message, _ = stats.diagnostic(100.0, camera_info=True)
    assert not ok and message == "no depth frames received"
    stats.count("received", 3)
    ok, message, _ = stats.diagnostic(100.0, camera_info=True, waiting_for_requests=True)
    assert ok and "on demand" in message
    ok, message, _ = stats.diagnostic(100.0, camera_info=True)
    assert not ok and "no grasp in the last" in message
    for k in range(10):
        stats.record_frame({"inference": 10.0 + k, "publish": 1.0}, 99.0 + 0.1 * k)
    ok, message, values = stats.diagnostic(100.0, camera_info=True)
    assert ok and message == "detecting at 2.0 Hz"
    assert values["frames_processed"] == "10" and values["latency_median_ms"] == "15.5"
    stats.record_skip("skipping frame: bad encoding", 100.5)
    ok, message, values = stats.diagnostic(101.0, camera_info=True)
    assert not ok and message.endswith("bad encoding") and values["frames_skipped"] == "1"
    ok, _, _ = stats.diagnostic(106.0, camera_info=True, waiting_for_requests=True)
    assert ok  # the skip is more than 5 s old


def test_summary_names_the_stages_and_counts():
    stats = FrameStats()
    assert stats.summary() is None
    stats.count("received", 4)
    stats.count("dropped")
    for ms in (10.0, 20.0, 30.0):
        stats.record_frame({"inference": ms}, 0.0)
    line = stats.summary()
    assert line.startswith("3 frames processed, 1 of 4 dropped; last 3:")
    assert "inference 20.0/" in line and "total 20.0/" in line
