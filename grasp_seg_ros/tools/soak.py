"""Soak test: drive grasp_detector at a fixed rate for a long time and watch it.

    grasp-seg soak --duration-s 1800 --rate 30 --out soak_output

Starts the node as its own process (shipped model unless --model), publishes simulated 640x480
16UC1 frames with fresh stamps at --rate over DDS, and samples once a second: the node's
resident memory (psutil), grasps received, stamp-to-grasp latency and the node's own counters
from /diagnostics. Writes soak.json (summary + samples) and soak.png (memory, rate, latency
over time). Exit code 1 if the node died or never answered.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import psutil

from grasp_seg_ros.core.stats import summarise
from grasp_seg_ros.ros.processes import node_process, ros_env
from grasp_seg_ros.ros.sim_camera_node import DEPTH_TOPIC, INFO_TOPIC
from grasp_seg_ros.core.resources import DEFAULT_MODEL

LOG = logging.getLogger("grasp_seg_ros.soak")


def render_frames(n: int) -> tuple[list[np.ndarray], object]:
    from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
    from grasp_seg_ros.sim.scene import make_scene
    from grasp_seg_ros.sim.seeds import first_seed
    camera = CameraConfig()
    rng = np.random.default_rng(0)
    frames = []
    for seed in range(n):
        with make_scene(first_seed("soak") + seed, camera=camera) as scene:
            frames.append(scene.render(DepthNoise(), rng)[0])
    return frames, camera


def run_soak(*, duration_s: float, rate_hz: float, model: str, out_dir: Path,
             warmup_s: float = 60.0) -> int:
    import os

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    from grasp_seg_ros.ros.processes import detector_ros_args
    from grasp_seg_ros.ros import conversions as conv

    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update({k: v for k, v in ros_env().items()
                       if k == "ROS_AUTOMATIC_DISCOVERY_RANGE"})
    frames, camera = render_frames(20)
    images = [conv.depth_m_to_image(f, Header(frame_id=camera.frame_id)) for f in frames]
    info = conv.intrinsics_to_camera_info(camera.intrinsics(), Header(frame_id=camera.frame_id))
    exit_codes: dict[str, int | None] = {}
    samples: list[dict] = []
    latencies: list[tuple[float, float]] = []  # (time since start, ms)
    with node_process("grasp_seg_ros.ros.detector_node",
                      detector_ros_args(model, ["-p", "stats_period_s:=0.0"]),
                      out_dir / "grasp_detector.log", exit_codes) as proc:
        node_ps = psutil.Process(proc.pid)
        rclpy.init(args=[])
        node = rclpy.create_node("grasp_soak_driver")
        depth_pub = node.create_publisher(Image, "/" + DEPTH_TOPIC, qos_profile_sensor_data)
        info_pub = node.create_publisher(CameraInfo, "/" + INFO_TOPIC, qos_profile_sensor_data)
        state = {"sent": 0, "received": 0, "diag": {}}
        t_start = time.monotonic()

        def on_pose(msg: PoseStamped) -> None:
            state["received"] += 1
            sent_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            latencies.append((time.monotonic() - t_start,
                              (node.get_clock().now().nanoseconds - sent_ns) * 1e-6))

        def on_diag(msg: DiagnosticArray) -> None:
            for status in msg.status:
                if "grasp_detector" in status.name:
                    state["diag"] = {kv.key: kv.value for kv in status.values}

        def publish() -> None:
            header = Header(stamp=node.get_clock().now().to_msg(), frame_id=camera.frame_id)
            img = images[state["sent"] % len(images)]
            img.header = header
            info.header = header
            info_pub.publish(info)
            depth_pub.publish(img)
            state["sent"] += 1

        node.create_subscription(PoseStamped, "/grasp_pose", on_pose,
                                 QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
        node.create_timer(1.0 / rate_hz, publish)
        next_sample = t_start + 1.0
        died = False
        try:
            while time.monotonic() - t_start < duration_s:
                rclpy.spin_once(node, timeout_sec=0.005)
                if time.monotonic() >= next_sample:
                    next_sample += 1.0
                    if proc.poll() is not None:
                        died = True
                        LOG.error("grasp_detector exited with %s", proc.returncode)
                        break
                    d = state["diag"]
                    samples.append({"t_s": round(time.monotonic() - t_start, 2),
                                    "rss_mb": node_ps.memory_info().rss / 2**20,
                                    "sent": state["sent"], "received": state["received"],
                                    "node_received": int(d.get("frames_received", 0)),
                                    "node_processed": int(d.get("frames_processed", 0)),
                                    "node_dropped": int(d.get("frames_dropped", 0)),
                                    "node_skipped": int(d.get("frames_skipped", 0)),
                                    "node_no_grasp": int(d.get("frames_no_grasp", 0))})
                    if len(samples) % 60 == 0:
                        s = samples[-1]
                        LOG.info("%4.0f s: sent %d, node received %d, dropped %d, grasps %d, "
                                 "RSS %.0f MB", s["t_s"], s["sent"], s["node_received"],
                                 s["node_dropped"], s["received"], s["rss_mb"])
        except KeyboardInterrupt:
            LOG.info("interrupted")
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
    summary = summarise_soak(samples, latencies, warmup_s=warmup_s, died=died,
                             exit_code=exit_codes.get("grasp_detector"),
                             rate_hz=rate_hz, duration_s=duration_s)
    (out_dir / "soak.json").write_text(json.dumps({"summary": summary, "samples": samples},
                                                  indent=1))
    plot_soak(samples, latencies, out_dir / "soak.png")
    LOG.info("soak: %s", json.dumps(summary))
    return 1 if died or not latencies else 0


def summarise_soak(samples: list[dict], latencies: list[tuple[float, float]], *,
                   warmup_s: float, died: bool, exit_code: int | None, rate_hz: float,
                   duration_s: float) -> dict:
    after = [s for s in samples if s["t_s"] >= warmup_s] or samples
    rss0, rss1 = (after[0]["rss_mb"], after[-1]["rss_mb"]) if after else (np.nan, np.nan)
    last = samples[-1] if samples else {}
    lat = summarise([{"ms": ms} for _, ms in latencies]).get("ms", {})
    return {
        "duration_s": duration_s, "rate_hz": rate_hz, "died": died,
        "node_exit_code": exit_code,
        "frames_sent": last.get("sent", 0), "grasps_received": last.get("received", 0),
        "node_received": last.get("node_received", 0),
        "lost_in_transport": last.get("sent", 0) - last.get("node_received", 0),
        "node_processed": last.get("node_processed", 0),
        "node_dropped": last.get("node_dropped", 0),
        "node_skipped": last.get("node_skipped", 0),
        "node_no_grasp": last.get("node_no_grasp", 0),
        "latency_ms_median": lat.get("median"), "latency_ms_p95": lat.get("p95"),
        "latency_ms_p99": float(np.percentile([ms for _, ms in latencies], 99))
        if latencies else None,
        "rss_mb_after_warmup": rss0, "rss_mb_end": rss1,
        "rss_mb_max": max((s["rss_mb"] for s in samples), default=np.nan),
        "rss_growth_after_warmup_pct": 100.0 * (rss1 - rss0) / rss0 if after else None,
        "warmup_s": warmup_s,
    }


def plot_soak(samples: list[dict], latencies: list[tuple[float, float]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not samples:
        return
    t = [s["t_s"] for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    axes[0].plot(t, [s["rss_mb"] for s in samples])
    axes[0].set_ylabel("node RSS (MB)")
    rate = np.diff([s["received"] for s in samples], prepend=0)
    axes[1].plot(t, rate, label="grasps/s")
    axes[1].plot(t, np.diff([s["sent"] for s in samples], prepend=0), label="frames sent/s")
    axes[1].set_ylabel("per second")
    axes[1].legend(loc="lower right")
    if latencies:
        lt, lm = zip(*latencies)
        axes[2].plot(lt, lm, ".", markersize=1)
    axes[2].set_ylabel("stamp -> grasp (ms)")
    axes[2].set_xlabel("time (s)")
    fig.suptitle("grasp_detector soak")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="grasp-seg soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration-s", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--warmup-s", type=float, default=60.0,
                   help="memory growth is measured from here on")
    p.add_argument("--out", type=Path, default=Path("soak_output"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    return run_soak(duration_s=args.duration_s, rate_hz=args.rate, model=args.model,
                    out_dir=args.out, warmup_s=min(args.warmup_s, args.duration_s / 2))


if __name__ == "__main__":
    raise SystemExit(main())
