"""core/ stays free of ROS and torch (it is shared by the node, datasets and simulator)."""

import pkgutil
import subprocess
import sys

import grasp_seg_ros.core as core


def test_core_imports_neither_torch_nor_rclpy():
    modules = [f"grasp_seg_ros.core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    assert len(modules) >= 7
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
              "('torch', 'rclpy', 'pybullet'))\nprint(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"core imported {out}"
