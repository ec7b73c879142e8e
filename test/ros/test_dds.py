"""The package's Fast DDS profile: used only where the user has none, parsed by Fast DDS
itself, and named in the detector's log."""

import os
import subprocess
import sys

from grasp_seg_ros.ros.dds import package_profile, use_package_profile, why_not

# a separate process, so the profile is read at its rclpy.init as in a node
PUBLISH_RELIABLY = """
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("profile_check")
pub = node.create_publisher(String, "/profile_check",
                            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
pub.publish(String(data="x"))
node.destroy_node()
rclpy.shutdown()
print("published")
"""


def _publish_with_profile(path, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if "PROFILES_FILE" not in k}
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(path)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return subprocess.run([sys.executable, "-c", PUBLISH_RELIABLY], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_the_package_profile_is_used_only_where_the_user_has_none(tmp_path):
    env = {}
    path, line = use_package_profile(env, tmp_path)
    assert path == package_profile() and path.is_file()
    assert env == {"FASTDDS_DEFAULT_PROFILES_FILE": str(path)}
    assert str(path) in line
    env = {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}
    assert use_package_profile(env, tmp_path)[0] == package_profile()

    for env in ({"FASTDDS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},
                {"FASTRTPS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},
                {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}):
        before = dict(env)
        path, line = use_package_profile(env, tmp_path)
        assert path is None and env == before, env
        assert "not used" in line and why_not(env, tmp_path) in line
    (tmp_path / "DEFAULT_FASTDDS_PROFILES.xml").write_text("<dds/>")
    env = {}
    assert use_package_profile(env, tmp_path)[0] is None and env == {}
    assert "working directory" in why_not(env, tmp_path)


def test_fast_dds_parses_the_package_profile(tmp_path):
    ok = _publish_with_profile(package_profile(), tmp_path)
    assert ok.returncode == 0 and "published" in ok.stdout, ok.stderr
    assert "XMLPARSER" not in ok.stderr, ok.stderr
    # the check sees a profile Fast DDS cannot read: a duration that is not a number
    broken = tmp_path / "broken.xml"
    broken.write_text(package_profile().read_text().replace("<sec>0</sec>", "<sec>x</sec>"))
    bad = _publish_with_profile(broken, tmp_path)
    assert "XMLPARSER" in bad.stderr and "broken.xml" in bad.stderr, bad.stderr


def test_the_detector_logs_the_profile_it_runs_with(detector, client):
    proc, log = detector
    assert client.spin_until(lambda: "Fast DDS profile:" in log.read_text(), 30.0), \
        log.read_text()
    assert str(package_profile()) in log.read_text()
    assert proc.poll() is None
