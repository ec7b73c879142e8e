"""The package's layers import only downwards (DESIGN: core <- nets <- inference <- sim,
training, ros), and core/ stays free of ROS and torch."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import grasp_seg_ros.core as core

PACKAGE = Path(__file__).resolve().parents[2] / "grasp_seg_ros"

#: what each layer may import besides itself; tools/ and cli.py sit above everything
ALLOWED = {
    "core": set(),
    "nets": {"core"},
    "inference": {"core", "nets"},
    "realsense": {"core"},
    "sim": {"core", "nets", "inference"},
    "training": {"core", "nets", "inference", "sim"},
    "ros": {"core", "nets", "inference", "realsense", "sim"},
    "tools": {"core", "nets", "inference", "realsense", "sim", "training", "ros"},
    "cli": {"core", "nets", "inference", "realsense", "sim", "training", "ros", "tools"},
}


def imported_layers(path: Path) -> set[str]:
    """Layers of grasp_seg_ros a module imports, at module level or inside functions."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "grasp_seg_ros" and len(parts) > 1:
                layers.add(parts[1])
                break
    return layers


def test_every_module_imports_only_layers_below_it():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40
    wrong = []
    for path in modules:
        rel = path.relative_to(PACKAGE)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if layer == "__init__":
            continue
        assert layer in ALLOWED, f"{rel}: a new layer; place it in ALLOWED and DESIGN's order"
        bad = imported_layers(path) - ALLOWED[layer] - {layer}
        if bad:
            wrong.append(f"{rel} imports {sorted(bad)}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_function_level_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from grasp_seg_ros.tools.demo import run_demo\n")
    assert imported_layers(module) == {"tools"}


def test_core_imports_neither_torch_nor_rclpy():
    modules = [f"grasp_seg_ros.core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    assert len(modules) >= 7
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
              "('torch', 'rclpy', 'pybullet'))\nprint(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"core imported {out}"
