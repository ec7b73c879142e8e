"""Where the package's installed files (config/, models/, launch/) live.

Looked up through the ament index when ROS knows the package (colcon install), else in the
source tree of an editable install, else under the Python prefix (pip install puts
data_files in <prefix>/share/grasp_seg_ros). Never relative to the working directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_NAME = "grasp_seg_ros"
MODEL_SUFFIX = ".safetensors"
# the model the node, the launch files and the tools use when none is named
DEFAULT_MODEL = "ggcnn2_heightmap_v2"


def cache_dir(kind: str) -> Path:
    """Where the package keeps what it makes and can make again (exported graphs, datasets,
    samples): $XDG_CACHE_HOME/grasp_seg_ros/<kind>, ~/.cache/... without it; read at each
    call, so a process that changes the variable sees it."""
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / PACKAGE_NAME / kind


def share_dir() -> Path:
    """The directory holding package.xml, config/, models/ and launch/."""
    try:
        from ament_index_python.packages import (PackageNotFoundError,
                                                 get_package_share_directory)
        try:
            return Path(get_package_share_directory(PACKAGE_NAME))
        except (PackageNotFoundError, OSError, ValueError, LookupError):
            # OSError: AMENT_PREFIX_PATH unset (pip-only install without a ROS setup)
            pass
    except ImportError:
        pass
    source_tree = Path(__file__).resolve().parents[2]
    if (source_tree / "package.xml").is_file() and (source_tree / "models").is_dir():
        return source_tree
    prefix_share = Path(sys.prefix) / "share" / PACKAGE_NAME
    if (prefix_share / "package.xml").is_file():
        return prefix_share
    raise FileNotFoundError(
        f"cannot find the installed files of {PACKAGE_NAME} (looked in the ament index, "
        f"{source_tree} and {prefix_share}); install the package with pip or colcon")


def resolve_model(name_or_path: str) -> Path:
    """A model name shipped in models/ (e.g. 'ggcnn') or a path to a .safetensors file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (MODEL_SUFFIX, ".onnx") or candidate.is_file() or "/" in name_or_path:
        return candidate
    return share_dir() / "models" / f"{name_or_path}{MODEL_SUFFIX}"


def shipped_models() -> list[str]:
    """Names of the models shipped in models/."""
    try:
        return sorted(p.stem for p in (share_dir() / "models").glob(f"*{MODEL_SUFFIX}"))
    except FileNotFoundError:
        return []
