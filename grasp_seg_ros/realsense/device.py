"""Depth from a RealSense camera or a recording, through pyrealsense2 (no ROS here).

:func:`open_source` opens a live device (:class:`LiveSource`: by serial number, or the only
one connected) or plays back a recording (:class:`PlaybackSource`), applies librealsense's
depth filters in the order Intel recommends (decimation, threshold, spatial and temporal in
disparity space, hole filling),
and yields :class:`DepthFrame` objects in millimetres whatever the device's depth units, with
the intrinsics of the filtered frame (decimation changes them).

Recordings: librealsense 2.57+ writes and reads rosbag2 files (``.db3``); older builds read
and write ROS 1 ``.bag`` files (RealSense Viewer's format). Which one this pyrealsense2 opens
is checked when a file is opened, and the error says what it accepts.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import GraspSegError

LOG = logging.getLogger(__name__)

MM_PER_M = 1000.0


class RealSenseError(GraspSegError):
    """The camera, the recording or pyrealsense2 itself cannot be used."""


def import_pyrealsense2():
    """Import pyrealsense2 with an error that says how to fix the usual failures."""
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        if "libusb" in str(exc):
            raise RealSenseError(
                f"pyrealsense2 needs the system library libusb-1.0 ({exc}); install it with "
                "'apt-get install libusb-1.0-0' (the Makefile's set-up does this)") from exc
        raise RealSenseError(
            f"pyrealsense2 is not installed ({exc}); 'pip install pyrealsense2'") from exc
    return rs


# librealsense distortion models -> sensor_msgs/CameraInfo distortion_model (as realsense-ros)
_DISTORTION = {"none": "plumb_bob", "brown_conrady": "plumb_bob",
               "modified_brown_conrady": "plumb_bob", "inverse_brown_conrady": "plumb_bob",
               "kannala_brandt4": "equidistant", "ftheta": "equidistant"}


@dataclass(frozen=True)
class DeviceIntrinsics:
    """Pinhole intrinsics plus the distortion model and coefficients, as CameraInfo holds them."""

    pinhole: CameraIntrinsics
    distortion_model: str = "plumb_bob"
    coeffs: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_rs(cls, intr) -> "DeviceIntrinsics":
        model = str(intr.model).rsplit(".", 1)[-1]
        ros_model = _DISTORTION.get(model)
        if ros_model is None:
            raise RealSenseError(f"distortion model {model} has no CameraInfo equivalent")
        coeffs = tuple(float(c) for c in intr.coeffs)
        if ros_model == "equidistant":
            coeffs = coeffs[:4]
        pinhole = CameraIntrinsics(fx=float(intr.fx), fy=float(intr.fy), cx=float(intr.ppx),
                                   cy=float(intr.ppy), width=int(intr.width),
                                   height=int(intr.height))
        pinhole.validate()
        return cls(pinhole, ros_model, coeffs)


@dataclass(frozen=True)
class DepthFrame:
    depth_mm: np.ndarray            # (H, W) uint16, 0 = no depth
    intrinsics: DeviceIntrinsics
    frame_number: int
    timestamp_ms: float             # the device's (or the recording's) timestamp
    depth_units_m: float            # metres per raw unit at the source


def to_millimetres(raw: np.ndarray, units_m: float) -> np.ndarray:
    """Raw z16 values in ``units_m`` metres each -> uint16 millimetres (0 stays 0)."""
    if not np.isfinite(units_m) or units_m <= 0.0:
        raise RealSenseError(f"depth units must be positive, got {units_m}")
    if abs(units_m * MM_PER_M - 1.0) < 1e-6:
        return np.array(raw, dtype=np.uint16, copy=True)
    mm = np.rint(raw.astype(np.float64) * (units_m * MM_PER_M))
    return np.clip(mm, 0, np.iinfo(np.uint16).max).astype(np.uint16)


@dataclass(frozen=True)
class FilterConfig:
    """librealsense post-processing; each filter off unless set (realsense-ros's defaults)."""

    decimation: int = 1               # magnitude 2..8 shrinks the image; 1 = off
    min_distance_m: float = 0.0       # threshold filter, used when max_distance_m > 0
    max_distance_m: float = 0.0
    spatial: bool = False
    temporal: bool = False
    hole_filling: int = -1            # -1 off; 0 fill from left, 1 farthest, 2 nearest around

    def validate(self) -> None:
        if not 1 <= self.decimation <= 8:
            raise ValueError(f"decimation magnitude must be 1..8, got {self.decimation}")
        if self.max_distance_m < 0 or self.min_distance_m < 0:
            raise ValueError("threshold distances must not be negative")
        if self.max_distance_m > 0 and self.min_distance_m >= self.max_distance_m:
            raise ValueError(f"threshold min_distance {self.min_distance_m} m must be below "
                             f"max_distance {self.max_distance_m} m")
        if self.hole_filling not in (-1, 0, 1, 2):
            raise ValueError(f"hole_filling must be -1 (off), 0, 1 or 2, got "
                             f"{self.hole_filling}")

    def build(self, rs) -> list:
        """The processing blocks in application order."""
        self.validate()
        blocks = []
        if self.decimation > 1:
            dec = rs.decimation_filter()
            dec.set_option(rs.option.filter_magnitude, float(self.decimation))
            blocks.append(dec)
        if self.max_distance_m > 0:
            blocks.append(rs.threshold_filter(float(self.min_distance_m),
                                              float(self.max_distance_m)))
        if self.spatial or self.temporal:
            blocks.append(rs.disparity_transform(True))
            if self.spatial:
                blocks.append(rs.spatial_filter())
            if self.temporal:
                blocks.append(rs.temporal_filter())
            blocks.append(rs.disparity_transform(False))
        if self.hole_filling >= 0:
            blocks.append(rs.hole_filling_filter(self.hole_filling))
        return blocks


@dataclass(frozen=True)
class SourceConfig:
    """What to open: a live camera (serial or the only one) or a recording."""

    serial: str = ""
    width: int = 640
    height: int = 480
    fps: int = 30
    playback_file: Path | None = None
    realtime: bool = True             # playback at the recorded rate, else as fast as read
    loop: bool = False
    record_file: Path | None = None   # live only: also record what is streamed
    filters: FilterConfig = field(default_factory=FilterConfig)
    timeout_ms: int = 5000            # live: no frame for this long is an error


def recording_suffixes(rs) -> tuple[str, ...]:
    """The recording formats this pyrealsense2 reads and writes (.db3 from 2.57, else .bag)."""
    major, minor = (int(v) for v in rs.__version__.split(".")[:2])
    return (".db3",) if (major, minor) >= (2, 57) else (".bag",)


def list_devices() -> list[dict[str, str]]:
    """Connected RealSense devices: name, serial number, firmware."""
    rs = import_pyrealsense2()
    out = []
    for dev in rs.context().query_devices():
        def info(key):
            return dev.get_info(key) if dev.supports(key) else ""
        out.append({"name": info(rs.camera_info.name),
                    "serial": info(rs.camera_info.serial_number),
                    "firmware": info(rs.camera_info.firmware_version)})
    return out


class DepthSource:
    """Depth frames from a RealSense: use as a context manager, iterate :meth:`frames`.

    One interface, two sources: :class:`LiveSource` (a connected camera, optionally recorded)
    and :class:`PlaybackSource` (a recording); :func:`open_source` picks one by the config.
    """

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self._rs = import_pyrealsense2()
        self._pipeline = None
        self._blocks: list = []
        config.filters.validate()

    def __enter__(self) -> "DepthSource":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def finished(self) -> bool:
        """True once a recording played to its end (never for a live device or a loop)."""
        return False

    def _check_file(self, path: Path, *, reading: bool) -> None:
        accepted = recording_suffixes(self._rs)
        if reading and not path.is_file():
            raise RealSenseError(f"recording {path} does not exist (check the playback_file "
                                 "parameter)")
        if path.suffix not in accepted:
            raise RealSenseError(
                f"recording {path}: this pyrealsense2 ({self._rs.__version__}) "
                f"{'reads' if reading else 'writes'} only {', '.join(accepted)} files")

    def _start_pipeline(self, rs_config):
        """Start a pipeline on ``rs_config``; returns its device."""
        self._pipeline = self._rs.pipeline()
        try:
            profile = self._pipeline.start(rs_config)
        except RuntimeError as exc:
            self._pipeline = None
            raise RealSenseError(f"cannot start {self.describe()}: {exc}") from exc
        self._blocks = self.config.filters.build(self._rs)
        LOG.info("streaming depth from %s", self.describe())
        return profile.get_device()

    def stop(self) -> None:
        if self._pipeline is not None:
            try:
                self._pipeline.stop()
            except RuntimeError as exc:  # already stopped by the end of a recording
                LOG.debug("pipeline stop: %s", exc)
            self._pipeline = None

    def _convert(self, frame) -> DepthFrame:
        for block in self._blocks:
            frame = block.process(frame)
        depth = frame.as_depth_frame()
        intr = depth.get_profile().as_video_stream_profile().get_intrinsics()
        raw = np.asanyarray(depth.get_data())
        return DepthFrame(depth_mm=to_millimetres(raw, depth.get_units()),
                          intrinsics=DeviceIntrinsics.from_rs(intr),
                          frame_number=int(depth.get_frame_number()),
                          timestamp_ms=float(depth.get_timestamp()),
                          depth_units_m=float(depth.get_units()))

    def read(self, timeout_ms: int = 100) -> DepthFrame | None:
        """The next frame, None when none came within timeout_ms (see :meth:`finished`)."""
        if self._pipeline is None:
            raise RealSenseError(f"{self.describe()} is not started")
        ok, frames = self._pipeline.try_wait_for_frames(timeout_ms)
        if not ok:
            return None
        depth = frames.get_depth_frame()
        if not depth:
            return None
        return self._convert(depth)

    def frames(self) -> Iterator[DepthFrame]:
        """Frames until a recording ends; a live device silent for timeout_ms is an error."""
        last = time.monotonic()
        while True:
            frame = self.read(100)
            if frame is not None:
                last = time.monotonic()
                yield frame
                continue
            if self.finished():
                return
            if time.monotonic() - last > self.config.timeout_ms / 1000.0:
                raise RealSenseError(f"no depth frame from {self.describe()} for "
                                     f"{self.config.timeout_ms} ms")


class LiveSource(DepthSource):
    """A connected camera (by serial, or the only one), optionally recorded to a file."""

    def describe(self) -> str:
        return f"RealSense {self.config.serial or '(first found)'}"

    def start(self) -> None:
        rs, cfg = self._rs, self.config
        serials = [d["serial"] for d in list_devices()]
        if not serials:
            raise RealSenseError(
                "no RealSense device is connected" + (f" (wanted serial {cfg.serial})"
                                                      if cfg.serial else "")
                + "; check the USB cable and that no other process holds the camera")
        if cfg.serial and cfg.serial not in serials:
            raise RealSenseError(f"no RealSense with serial {cfg.serial}; connected: "
                                 f"{', '.join(serials)}")
        rs_config = rs.config()
        if cfg.serial:
            rs_config.enable_device(cfg.serial)
        rs_config.enable_stream(rs.stream.depth, cfg.width, cfg.height, rs.format.z16, cfg.fps)
        if cfg.record_file is not None:
            self._check_file(Path(cfg.record_file), reading=False)
            Path(cfg.record_file).parent.mkdir(parents=True, exist_ok=True)
            rs_config.enable_record_to_file(str(cfg.record_file))
        self._start_pipeline(rs_config)


class PlaybackSource(DepthSource):
    """A recording, played through the sensor API (so real-time mode holds from the first
    frame); with ``loop`` it starts again from the beginning when it ends. (librealsense's own
    repeat through a pipeline stalled now and then at the loop point when not in real time:
    no frame for seconds, about one run in six on a loaded machine.)"""

    def __init__(self, config: SourceConfig) -> None:
        super().__init__(config)
        self._playback = None
        self._sensor = None
        self._queue: queue.Queue | None = None
        self._stopping = threading.Event()

    def describe(self) -> str:
        return f"recording {self.config.playback_file}"

    def start(self) -> None:
        path = Path(self.config.playback_file)
        self._check_file(path, reading=True)
        self._start_once(path)
        LOG.info("streaming depth from %s%s", self.describe(),
                 ", in a loop" if self.config.loop else "")

    def _start_once(self, path: Path) -> None:
        """A recording played through the sensor API: real-time mode is set before any frame
        flows (through a pipeline it can only be set after start, and a recording written in a
        burst is then already played), and frames reach a queue that, when not real-time,
        holds playback back instead of dropping frames."""
        rs = self._rs
        try:
            device = rs.context().load_device(str(path))
        except RuntimeError as exc:
            raise RealSenseError(f"cannot start {self.describe()}: {exc}") from exc
        self._playback = device.as_playback()
        self._playback.set_real_time(self.config.realtime)
        for sensor in device.query_sensors():
            profiles = [p for p in sensor.get_stream_profiles()
                        if p.stream_type() == rs.stream.depth]
            if profiles:
                break
        else:
            raise RealSenseError(f"recording {path} holds no depth stream")
        self._blocks = self.config.filters.build(rs)
        self._queue = queue.Queue(maxsize=64)
        self._stopping.clear()
        sensor.open(profiles[0])
        sensor.start(self._on_frame)
        self._sensor = sensor

    def _on_frame(self, frame) -> None:
        converted = self._convert(frame)
        while not self._stopping.is_set():
            try:
                if self.config.realtime:   # like a camera: the newest frames win
                    if self._queue.full():
                        self._queue.get_nowait()
                    self._queue.put_nowait(converted)
                else:                      # as fast as read: wait for the reader
                    self._queue.put(converted, timeout=0.1)
                return
            except (queue.Full, queue.Empty):
                continue

    def stop(self) -> None:
        if self._sensor is not None:
            self._stopping.set()
            try:
                self._sensor.stop()
                self._sensor.close()
            except RuntimeError as exc:
                LOG.debug("sensor stop: %s", exc)
            self._sensor = None
        super().stop()
        self._playback = None

    def _played(self) -> bool:
        """The recording has played to its end and every frame has been read."""
        return (self._playback is not None
                and self._playback.current_status() == self._rs.playback_status.stopped
                and (self._queue is None or self._queue.empty()))

    def finished(self) -> bool:
        return not self.config.loop and self._played()

    def read(self, timeout_ms: int = 100) -> DepthFrame | None:
        if self._sensor is None:
            raise RealSenseError(f"{self.describe()} is not started")
        try:
            return self._queue.get(timeout=timeout_ms / 1000.0)
        except queue.Empty:
            pass
        if self.config.loop and self._played():
            LOG.debug("%s ended: playing it again", self.describe())
            self.stop()
            self._start_once(Path(self.config.playback_file))
        return None


def open_source(config: SourceConfig) -> DepthSource:
    """The source a config names: a recording when ``playback_file`` is set, else a camera."""
    return PlaybackSource(config) if config.playback_file is not None else LiveSource(config)
