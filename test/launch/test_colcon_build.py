"""colcon builds the package; the install tree holds what the launch files need, and the
installed node finds its config and models through the ament index."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLCON = shutil.which("colcon") or str(Path(sys.executable).parent / "colcon")


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    if not Path(COLCON).exists():
        pytest.skip("colcon is not installed (make test installs it)")
    ws = tmp_path_factory.mktemp("ws")
    src = ws / "src" / "grasp_seg_ros"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "install", "log", "*.egg-info", "__pycache__",
        "demo_output", ".pytest_cache", ".hypothesis"))
    proc = subprocess.run([COLCON, "build", "--base-paths", "src"], cwd=ws,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ws / "install" / "grasp_seg_ros"


def test_install_tree(install):
    share = install / "share" / "grasp_seg_ros"
    for rel in ("package.xml", "launch/detect.launch.py", "launch/demo.launch.py",
                "config/detect.yaml", "config/detect.rviz"):
        assert (share / rel).is_file(), rel
    assert list((share / "models").glob("*.safetensors")), "no model installed"
    assert (install / "share" / "ament_index" / "resource_index" / "packages"
            / "grasp_seg_ros").is_file()
    for exe in ("grasp_detector", "grasp_detector_managed", "sim_camera", "realsense_camera"):
        assert os.access(install / "lib" / "grasp_seg_ros" / exe, os.X_OK), exe


def test_installed_package_resolves_its_share_directory(install):
    site = next((install / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, AMENT_PREFIX_PATH=str(install),
               PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    code = ("from grasp_seg_ros.core.resources import share_dir, resolve_model;"
            "import grasp_seg_ros; print(grasp_seg_ros.__file__);"
            "print(share_dir()); print(resolve_model('ggcnn').is_file())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=install).stdout.split()
    assert out[0].startswith(str(site))
    assert out[1] == str(install / "share" / "grasp_seg_ros")
    assert out[2] == "True"
