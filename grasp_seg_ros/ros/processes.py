"""Nodes as child processes: start, stop like Ctrl-C, and the detector's usual arguments.
Used by the demo, the soak run and the node tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Sequence

from grasp_seg_ros.core.resources import share_dir

DETECTOR_MODULE = "grasp_seg_ros.ros.detector_node"
MANAGED_DETECTOR_MODULE = "grasp_seg_ros.ros.managed_detector_node"


def ros_env() -> dict[str, str]:
    """The environment for child nodes: discovery kept on this machine unless set."""
    env = dict(os.environ)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start_node(module: str, ros_args: Sequence[str], log_path: Path, *,
               args: Sequence[str] = ()) -> subprocess.Popen:
    """``python -m module [args] --ros-args ros_args``, stdout and stderr to ``log_path``."""
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, "-m", module, *args, "--ros-args", *ros_args],
                            stdout=log, stderr=subprocess.STDOUT, env=ros_env())


def stop_node(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout_s: float = 10.0) -> int:
    """Send ``sig`` (SIGINT: like Ctrl-C); SIGKILL only if the node does not stop in time.
    Returns the exit code (-SIGKILL when it had to be killed)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def node_process(module: str, ros_args: list[str], log_path: Path,
                 exit_codes: dict[str, int | None]) -> Iterator[subprocess.Popen]:
    """A node in its own process, stopped (SIGINT) however the block is left; its exit
    code lands in ``exit_codes`` under the log file's stem."""
    proc = start_node(module, ros_args, log_path)
    try:
        yield proc
    finally:
        exit_codes[log_path.stem] = stop_node(proc)


def detector_ros_args(model: str, extra: list[str] | None = None) -> list[str]:
    """ros-args of grasp_detector on the simulated camera's (realsense-ros) topics."""
    from grasp_seg_ros.ros.sim_camera_node import DEPTH_TOPIC, INFO_TOPIC
    return ["--params-file", str(share_dir() / "config" / "detect.yaml"),
            "-p", f"model:={model}",
            "-r", f"depth/image_raw:=/{DEPTH_TOPIC}",
            "-r", f"depth/camera_info:=/{INFO_TOPIC}", *(extra or [])]
