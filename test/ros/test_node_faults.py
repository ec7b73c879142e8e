"""Bad input, start-up faults and runtime changes of grasp_detector, over real DDS."""

import dataclasses
import itertools
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.nets import get_model
from grasp_seg_ros.nets.weights import ModelMetadata, save_weights
from grasp_seg_ros.ros import conversions as conv
from helpers import box_scene, nearest_surface_model
from node_harness import FRAME_ID, INTR, set_parameter, start_detector, stop

START_TIMEOUT_S = 90.0


def stamp(sec: int) -> Time:
    return Time(sec=sec, nanosec=0)


def pose_stamps(client) -> set[int]:
    return {p.header.stamp.sec for p in client.received["pose"]}


def raw_image(encoding: str, height: int, width: int, step: int, data: bytes,
              bigendian: bool = False):
    return conv.Image(header=Header(), height=height, width=width, encoding=encoding,
                      is_bigendian=int(bigendian), step=step, data=data)


def bad_frames():
    """(expected log reason, kwargs for Client.publish) of frames that must be skipped."""
    good = box_scene()
    zero_focal = conv.intrinsics_to_camera_info(INTR, Header())
    zero_focal.k = [0.0, 0, 319.5, 0, 0.0, 239.5, 0, 0, 1]
    small_info = conv.intrinsics_to_camera_info(
        CameraIntrinsics(fx=385.0, fy=385.0, cx=125.0, cy=100.0, width=250, height=200),
        Header())

    # the encoding and the values are refused before the size is compared with CameraInfo:
    # these frames are small, as large best-effort frames (3.7 MB of 32FC3) were lost over
    # and over on a loaded machine
    def f32(value):
        return raw_image("32FC1", 120, 160, 640, np.full((120, 160), value, "<f4").tobytes())
    return [
        ("unsupported depth encoding 'rgb8'",
         dict(image=raw_image("rgb8", 120, 160, 480, bytes(120 * 480)))),
        ("unsupported depth encoding 'mono8'",
         dict(image=raw_image("mono8", 120, 160, 160, bytes(120 * 160)))),
        ("unsupported depth encoding '32FC3'",
         dict(image=raw_image("32FC3", 120, 160, 1920, bytes(120 * 1920)))),
        ("data holds 1000 bytes", dict(image=raw_image("16UC1", 480, 640, 1280, bytes(1000)))),
        ("valid depth", dict(depth_m=np.zeros((480, 640), np.float32))),     # all zero
        ("valid depth", dict(image=f32(np.nan))),
        ("valid depth", dict(image=f32(-1.0))),
        ("valid depth", dict(image=f32(np.inf))),
        ("valid depth", dict(image=f32(3e38))),                               # absurdly far
        ("does not fit in a 250x200 image", dict(depth_m=good[:200, :250], info=small_info)),
        ("focal lengths must be positive", dict(depth_m=good, info=zero_focal)),
        ("CameraInfo describes 640x480", dict(depth_m=good[:240, :320])),
    ]


def test_bad_frames_are_skipped_and_the_node_keeps_going(detector, client):
    proc, log = detector
    good = box_scene()
    assert client.spin_until(lambda: client.received["pose"], START_TIMEOUT_S,
                             publish=lambda: client.publish(good)), log.read_text()
    next_sec = [client.node.get_clock().now().to_msg().sec + 10]
    bad_stamps = set()

    def send(kwargs):
        kwargs = dict(kwargs)
        depth = kwargs.pop("depth_m", None)
        bad_stamps.add(next_sec[0])
        client.publish(depth, stamp=stamp(next_sec[0]), **kwargs)
        next_sec[0] += 1

    for reason, kwargs in bad_frames():
        # best-effort transport may lose a large frame: resend until the node has seen it
        assert client.spin_until(lambda: reason in log.read_text(), 20.0,
                                 publish=lambda: send(kwargs), period_s=0.5), reason
    final = next_sec[0] + 1
    assert client.spin_until(lambda: final in pose_stamps(client), 30.0,
                             publish=lambda: client.publish(good, stamp=stamp(final)))
    assert not pose_stamps(client) & bad_stamps, "a bad frame produced a pose"
    for p in client.received["pose"]:
        v = [p.pose.position.x, p.pose.position.y, p.pose.position.z]
        assert np.isfinite(v).all()
    assert proc.poll() is None and "Traceback" not in log.read_text()


def test_a_frame_is_measured_with_the_camera_info_of_its_stamp(detector, client):
    proc, log = detector
    """A CameraInfo that arrives while a frame waits for the worker belongs to a later frame;
    the waiting frame is measured with the CameraInfo that shares its stamp."""
    good = box_scene()
    assert client.spin_until(lambda: client.received["pose"], START_TIMEOUT_S,
                             publish=lambda: client.publish(good))
    reference = client.received["pose"][-1].pose.position
    # 40 px off in cx moves a grasp 0.5 m away ~5 cm sideways
    shifted = conv.intrinsics_to_camera_info(dataclasses.replace(INTR, cx=INTR.cx + 40),
                                             Header())
    t = client.node.get_clock().now().to_msg().sec + 10
    waiting, deadline = [], time.monotonic() + 120.0
    # best-effort transport loses some of two large frames sent back to back on a loaded
    # machine: go on until three of the waiting frames have their pose
    for i in itertools.count():
        if len(waiting) == 3 or time.monotonic() > deadline:
            break
        busy, frame = t + 3 * i, t + 3 * i + 1
        client.publish(good, stamp=stamp(busy))     # the worker takes this one...
        client.publish(good, stamp=stamp(frame))    # ...this one waits in the mailbox...
        shifted.header = Header(stamp=stamp(frame + 1), frame_id=FRAME_ID)
        client.info_pub.publish(shifted)            # ...while a later CameraInfo arrives
        if client.spin_until(lambda: frame in pose_stamps(client), 5.0):
            waiting.append(frame)
    assert len(waiting) == 3, f"{i} tries, {len(waiting)} poses:\n{log.read_text()[-3000:]}"
    for msg in client.received["pose"]:
        if msg.header.stamp.sec in waiting:
            p = msg.pose.position
            assert (p.x, p.y, p.z) == pytest.approx((reference.x, reference.y, reference.z),
                                                    abs=1e-4), msg.header.stamp.sec


def test_big_endian_frames_give_the_same_grasp(detector, client):
    good = box_scene()
    assert client.spin_until(lambda: client.received["pose"], START_TIMEOUT_S,
                             publish=lambda: client.publish(good))
    little = client.received["pose"][-1].pose.position
    mm = np.nan_to_num(good * 1000).astype(">u2")
    big = raw_image("16UC1", 480, 640, 1280, mm.tobytes(), bigendian=True)
    t = client.node.get_clock().now().to_msg().sec + 100
    assert client.spin_until(lambda: t in pose_stamps(client), 30.0,
                             publish=lambda: client.publish(None, image=big, stamp=stamp(t)))
    p = next(m for m in client.received["pose"] if m.header.stamp.sec == t).pose.position
    assert (p.x, p.y, p.z) == pytest.approx((little.x, little.y, little.z), abs=1e-4)


def test_stamps_going_backwards(detector, client):
    proc, log = detector
    good = box_scene()
    t = client.node.get_clock().now().to_msg().sec + 1000
    assert client.spin_until(lambda: t in pose_stamps(client), START_TIMEOUT_S,
                             publish=lambda: client.publish(good, stamp=stamp(t)))
    # slightly older: skipped (resent, as best-effort transport may lose a frame)
    assert client.spin_until(lambda: "older than the last processed frame" in log.read_text(),
                             20.0, publish=lambda: client.publish(good, stamp=stamp(t - 2)),
                             period_s=0.5)
    # far back: a restarted source (a looping bag) is accepted
    assert client.spin_until(lambda: t - 600 in pose_stamps(client), 30.0,
                             publish=lambda: client.publish(good, stamp=stamp(t - 600)))
    assert "tracking reset" in log.read_text()
    # one worker, reliable and in order: a pose of the skipped frames would have come first
    assert t - 2 not in pose_stamps(client)


def test_diagnostics_report_state(detector, client):
    def latest():
        return client.received["diagnostics"][-1].status[0] if client.received[
            "diagnostics"] else None
    assert client.spin_until(lambda: latest() is not None, START_TIMEOUT_S)
    status = latest()
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == status.WARN and "CameraInfo" in status.message
    assert values["device"] == "cpu" and values["model"].endswith("nearest.safetensors")
    assert values["backend"] in ("torch", "onnxruntime")   # backend auto: the faster here
    assert values["precision"] == "fp32"
    good = box_scene()
    client.received["diagnostics"].clear()
    assert client.spin_until(
        lambda: latest() is not None and latest().level == latest().OK, 30.0,
        publish=lambda: client.publish(good))
    values = {kv.key: kv.value for kv in latest().values}
    assert int(values["frames_processed"]) > 0 and float(values["rate_hz"]) > 0
    assert float(values["latency_p95_ms"]) >= float(values["latency_median_ms"]) > 0


def test_model_is_switched_at_runtime(detector, client, tmp_path):
    good = box_scene()
    assert client.spin_until(lambda: client.received["vector"], START_TIMEOUT_S,
                             publish=lambda: client.publish(good))
    width_before = client.received["vector"][-1].data[4]
    wider = nearest_surface_model(tmp_path / "wider.safetensors")
    from grasp_seg_ros.nets.weights import load_weights
    net, meta = load_weights(wider)
    with torch.no_grad():
        net.heads.heads[3].bias[0] = 0.4  # width 60 px instead of 30
    save_weights(wider, net, meta)
    assert set_parameter(client, "model", str(wider)).successful
    client.received["vector"].clear()
    assert client.spin_until(lambda: client.received["vector"], 30.0,
                             publish=lambda: client.publish(good))
    assert client.received["vector"][-1].data[4] == pytest.approx(2 * width_before, rel=0.1)


def _start_up(args, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grasp_seg_ros.ros.detector_node",
                           "--ros-args", *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_truncated_and_wrong_architecture_files_stop_start_up(model, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(model.read_bytes()[:5000])
    code, out = _start_up(["-p", f"model:={truncated}"], tmp_path)
    assert code == 1 and str(truncated) in out and "Traceback" not in out
    wrong = tmp_path / "wrong.safetensors"
    tensors = {k: v for k, v in get_model("ggcnn").state_dict().items()}
    from safetensors.torch import save_file
    from grasp_seg_ros.nets.weights import METADATA_KEY
    save_file(tensors, str(wrong), metadata={METADATA_KEY: ModelMetadata("ggcnn2").to_json()})
    code, out = _start_up(["-p", f"model:={wrong}"], tmp_path)
    assert code == 1 and "does not match architecture 'ggcnn2'" in out, out


def test_bad_parameters_file_stops_start_up(model, tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("/**/grasp_detector:\n  ros__parameters:\n    top_k: [unclosed\n")
    code, out = _start_up(["--params-file", str(bad), "-p", f"model:={model}"], tmp_path)
    assert code == 1 and str(bad) in out and "Traceback" not in out, out
    wrong_type = tmp_path / "types.yaml"
    wrong_type.write_text("/**/grasp_detector:\n  ros__parameters:\n    top_k: five\n")
    code, out = _start_up(["--params-file", str(wrong_type), "-p", f"model:={model}"], tmp_path)
    assert code == 1 and "top_k" in out and "expecting type 'INTEGER'" in out, out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_cuda_without_gpu_fails_or_falls_back(model, tmp_path, client):
    code, out = _start_up(["-p", f"model:={model}", "-p", "device:=cuda"], tmp_path)
    assert code == 1 and "torch sees no CUDA GPU" in out and "allow_cpu_fallback" in out
    log = tmp_path / "fallback.log"
    proc = start_detector(model, log, "-p", "allow_cpu_fallback:=true")
    try:
        set_parameter(client, "device", "cuda")  # at runtime, too, the fallback applies
        good = box_scene()
        assert client.spin_until(lambda: client.received["pose"], START_TIMEOUT_S,
                                 publish=lambda: client.publish(good))
        assert "falling back to the CPU" in log.read_text()
    finally:
        assert stop(proc) == 0
