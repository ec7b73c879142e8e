"""The package's Fast DDS profile (config/fastdds.xml): reliable writers send a heartbeat
every 100 ms instead of Fast DDS's default 3 s.

On a reliable topic a lost sample is resent only once the reader has heard a heartbeat, and
the reader hands on none of the samples after it until then. On a busy machine the node's
/grasp_pose samples are sometimes lost on their way to a listener, and with the default
period a controller then got several poses at once, up to 2.7 s late (README,
"Performance"). The profile is used only where the user has no Fast DDS
profile of their own and the middleware is Fast DDS (the ROS default); everything else is
left as it is.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from grasp_seg_ros.core.resources import share_dir

#: what Fast DDS reads a profile file from, newest name first
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
#: the file Fast DDS loads from the working directory when no variable names one
WORKING_DIRECTORY_PROFILES = ("DEFAULT_FASTDDS_PROFILES.xml", "DEFAULT_FASTRTPS_PROFILES.xml")
PROFILE_NAME = "fastdds.xml"


def package_profile() -> Path:
    """config/fastdds.xml of the installed package (or the source tree)."""
    return share_dir() / "config" / PROFILE_NAME


def why_not(env: MutableMapping[str, str], cwd: Path) -> str | None:
    """Why the package's profile is not used with this environment, or None when it is."""
    rmw = env.get("RMW_IMPLEMENTATION", "")
    if rmw and not rmw.startswith("rmw_fastrtps"):
        return f"RMW_IMPLEMENTATION is {rmw}"
    for name in PROFILE_VARIABLES:
        if env.get(name):
            return f"{name} is set ({env[name]})"
    for name in WORKING_DIRECTORY_PROFILES:
        if (cwd / name).is_file():
            return f"{name} is in the working directory"
    return None


def use_package_profile(env: MutableMapping[str, str] | None = None,
                        cwd: Path | None = None) -> tuple[Path | None, str]:
    """Point FASTDDS_DEFAULT_PROFILES_FILE at the package's profile in ``env`` (default:
    this process's environment, before rclpy.init) unless the user chose their own.
    Returns (the profile now used or None, a line saying so for the node's log)."""
    env = os.environ if env is None else env
    reason = why_not(env, Path.cwd() if cwd is None else cwd)
    if reason is not None:
        return None, f"Fast DDS profile: the user's ({reason}); the package's is not used"
    try:
        path = package_profile()
    except FileNotFoundError as exc:
        return None, f"Fast DDS profile: none ({exc})"
    if not path.is_file():
        return None, f"Fast DDS profile: none ({path} is missing)"
    env[PROFILE_VARIABLES[0]] = str(path)
    return path, (f"Fast DDS profile: {path} (reliable topics repaired within 0.1 s; set "
                  f"{PROFILE_VARIABLES[0]} to use your own)")
