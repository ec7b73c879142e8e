"""Write RealSense recordings from depth images, through pyrealsense2's software device.

The file is what librealsense itself records from a camera (a device with a "Stereo Module"
depth sensor, its intrinsics, depth units and frame timestamps), so it plays back through
:func:`~grasp_seg_ros.realsense.device.open_source` and the RealSense tools like a real
recording. Used by the tests (no camera here) and by ``grasp-seg realsense synth``, which
records simulated scenes for replay.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.realsense.device import RealSenseError, import_pyrealsense2

SENSOR_NAME = "Stereo Module"


def write_recording(path: Path, frames: Iterable[np.ndarray], intrinsics: CameraIntrinsics, *,
                    depth_units_m: float = 0.001, fps: int = 30,
                    coeffs: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0),
                    serial: str = "000000000000", start_ms: float = 0.0,
                    paced: bool = True) -> int:
    """Record raw z16 frames (uint16, in ``depth_units_m`` metres each) to ``path``.

    Returns the number of frames written. Frame i has frame number i and timestamp
    start_ms + i * 1000 / fps. librealsense places frames on the file's timeline by when they
    arrive, so ``paced`` writes them at ``fps`` for playback at the recorded rate to run at
    that rate; unpaced files are written at once and replay in a burst.
    """
    rs = import_pyrealsense2()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    w, h = intrinsics.width, intrinsics.height

    intr = rs.intrinsics()
    intr.width, intr.height = w, h
    intr.fx, intr.fy, intr.ppx, intr.ppy = (intrinsics.fx, intrinsics.fy, intrinsics.cx,
                                            intrinsics.cy)
    intr.model = rs.distortion.brown_conrady
    intr.coeffs = list(coeffs)
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = rs.stream.depth, 0, 0
    stream.width, stream.height, stream.fps = w, h, int(fps)
    stream.bpp, stream.fmt, stream.intrinsics = 2, rs.format.z16, intr

    device = rs.software_device()
    device.register_info(rs.camera_info.name, "grasp_seg_ros software depth camera")
    device.register_info(rs.camera_info.serial_number, serial)
    sensor = device.add_sensor(SENSOR_NAME)
    profile = sensor.add_video_stream(stream).as_video_stream_profile()
    sensor.add_read_only_option(rs.option.depth_units, float(depth_units_m))

    try:
        recorder = rs.recorder(str(path), device)
    except RuntimeError as exc:
        raise RealSenseError(f"cannot record to {path}: {exc}") from exc
    queue = rs.frame_queue(1)
    sensor.open(profile)
    sensor.start(queue)
    count = 0
    t0 = time.monotonic()
    try:
        for i, raw in enumerate(frames):
            if paced:
                time.sleep(max(0.0, t0 + i / fps - time.monotonic()))
            raw = np.ascontiguousarray(raw, dtype=np.uint16)
            if raw.shape != (h, w):
                raise RealSenseError(f"frame {i} is {raw.shape[1]}x{raw.shape[0]}, the "
                                     f"recording is {w}x{h}")
            frame = rs.software_video_frame()
            frame.pixels = raw
            frame.bpp, frame.stride = 2, w * 2
            frame.timestamp = start_ms + i * 1000.0 / fps
            frame.domain = rs.timestamp_domain.hardware_clock
            frame.frame_number = i
            frame.profile = profile
            sensor.on_video_frame(frame)
            queue.poll_for_frame()  # keep the queue from holding frames
            count += 1
    finally:
        sensor.stop()
        sensor.close()
        recorder.pause()
        del recorder  # the file is completed when the recorder is destroyed
    return count
