"""Launch files, config and packaging agree with the code (launch/launch_ros have no wheels,
so the launch files are checked statically here and by colcon in test_colcon_build)."""

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from grasp_seg_ros.ros.detector_params import PARAMETERS

ROOT = Path(__file__).resolve().parents[2]


def console_scripts() -> set[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    scripts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.match(r"^[\w-]+ = grasp_seg_ros[\w.]*:\w+$", node.value):
            scripts.add(node.value.split(" = ")[0])
    return scripts


def launch_calls(path: Path, func: str) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == func]


def kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


def test_console_scripts_point_at_real_functions():
    import importlib
    tree = ast.parse((ROOT / "setup.py").read_text())
    specs = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
             and isinstance(n.value, str) and " = grasp_seg_ros" in n.value]
    assert {"grasp_detector", "grasp_detector_managed", "sim_camera",
            "grasp-seg"} <= console_scripts()
    for spec in specs:
        module, func = spec.split(" = ")[1].split(":")
        assert callable(getattr(importlib.import_module(module), func)), spec


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_nodes_use_installed_executables(path):
    nodes = launch_calls(path, "Node") + launch_calls(path, "LifecycleNode")
    assert nodes
    for call in nodes:
        package = kw(call, "package").value
        executable = kw(call, "executable").value
        if package == "grasp_seg_ros":
            assert executable in console_scripts(), f"{path.name}: {executable}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_reference_installed_files(path):
    text = path.read_text()
    for parts in re.findall(r'os\.path\.join\(share, ((?:"[^"]+",? ?)+)\)', text):
        rel = Path(*re.findall(r'"([^"]+)"', parts))
        assert (ROOT / rel).is_file(), f"{path.name} refers to missing {rel}"


def test_detect_launch_arguments():
    path = ROOT / "launch" / "detect.launch.py"
    args = {kw(c, "default_value") and c.args[0].value
            for c in launch_calls(path, "DeclareLaunchArgument")}
    assert {"model", "device", "backend", "params_file", "depth_topic", "camera_info_topic",
            "namespace", "rviz", "camera", "serial_no", "playback_file",
            "camera_params_file", "mode", "target_frame", "managed"} <= args
    text = path.read_text()
    assert '"/camera/camera/depth/image_rect_raw"' in text
    assert '("depth/image_raw", LaunchConfiguration("depth_topic"))' in text


def test_params_file_matches_declared_parameters():
    config = yaml.safe_load((ROOT / "config" / "detect.yaml").read_text())
    params = config["/**/grasp_detector"]["ros__parameters"]
    assert set(params) == set(PARAMETERS)
    for name, value in params.items():
        spec = PARAMETERS[name]
        assert type(value) is type(spec.default), name
        assert value == spec.default, f"{name}: config {value} != code default {spec.default}"
        if spec.range is not None:
            assert spec.range[0] <= value <= spec.range[1], name


def test_realsense_params_file_matches_declared_parameters():
    from grasp_seg_ros.ros.realsense_node import PARAMETERS as REALSENSE
    config = yaml.safe_load((ROOT / "config" / "realsense.yaml").read_text())
    params = config["/**/realsense_camera"]["ros__parameters"]
    assert set(params) == set(REALSENSE)
    for name, value in params.items():
        assert type(value) is type(REALSENSE[name].default), name


def test_setup_installs_launch_config_and_models():
    text = (ROOT / "setup.py").read_text()
    for folder in ("launch", "config", "models"):
        assert f'share/{{PACKAGE}}/{folder}' in text
    assert (ROOT / "resource" / "grasp_seg_ros").is_file()


def test_package_xml_declares_runtime_dependencies():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "grasp_seg_ros"
    deps = {e.text for e in root.findall("exec_depend")}
    assert {"rclpy", "sensor_msgs", "geometry_msgs", "visualization_msgs", "std_msgs",
            "cv_bridge", "python3-numpy", "python3-opencv", "python3-scipy"} <= deps
    assert root.find("export/build_type").text == "ament_python"


def test_readme_documents_every_parameter():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in PARAMETERS if f"`{name}`" not in readme]
    assert not missing


def test_readme_commands_exist_in_makefile_and_ci():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make demo" in readme and "make test" in readme
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_default_model_is_the_shipped_default(path):
    from grasp_seg_ros.core.resources import DEFAULT_MODEL
    defaults = {c.args[0].value: getattr(kw(c, "default_value"), "value", None)
                for c in launch_calls(path, "DeclareLaunchArgument")}
    assert defaults["model"] == DEFAULT_MODEL
    assert (ROOT / "models" / f"{DEFAULT_MODEL}.safetensors").is_file()
