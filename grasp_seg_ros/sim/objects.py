"""Object sources for scenes and their fixed train / val / test split.

Sources:
- ``primitives``: boxes, cylinders and spheres of random size (shapes, not object identities:
  they appear in every split).
- ``random_urdfs``: the 1000 procedurally generated meshes in pybullet_data. Object n belongs
  to ``train`` when n % 10 < 8, ``val`` when n % 10 == 8 and ``test`` when n % 10 == 9.
- a folder of ``*.urdf`` / ``*.obj`` files: split by the file name's CRC-32 modulo 10 with the
  same rule, so adding files never moves existing ones between splits.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data

SPLITS = ("train", "val", "test")
PRIMITIVES = ("box", "cylinder", "sphere")
NUM_RANDOM_URDFS = 1000


def split_of_index(n: int) -> str:
    digit = n % 10
    return "train" if digit < 8 else ("val" if digit == 8 else "test")


def split_of_name(name: str) -> str:
    return split_of_index(zlib.crc32(name.encode()))


@dataclass(frozen=True)
class ObjectSpec:
    """One object identity: where its shape comes from."""

    source: str   #: 'primitive', 'random_urdfs' or 'folder'
    name: str     #: primitive kind, random_urdfs index as 3 digits, or a file path

    @property
    def label(self) -> str:
        return f"{self.source}:{Path(self.name).name}"


def catalogue(split: str, sources: tuple[str, ...], object_dir: Path | None = None
              ) -> list[ObjectSpec]:
    """Every object of a split from the chosen sources."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    specs: list[ObjectSpec] = []
    if "primitives" in sources:
        specs += [ObjectSpec("primitive", kind) for kind in PRIMITIVES]
    if "random_urdfs" in sources:
        specs += [ObjectSpec("random_urdfs", f"{n:03d}") for n in range(NUM_RANDOM_URDFS)
                  if split_of_index(n) == split]
    if "folder" in sources:
        if object_dir is None or not Path(object_dir).is_dir():
            raise ValueError(f"source 'folder' needs an existing object_dir, got {object_dir}")
        files = sorted(p for p in Path(object_dir).rglob("*") if p.suffix in (".urdf", ".obj"))
        specs += [ObjectSpec("folder", str(p)) for p in files if split_of_name(p.name) == split]
    unknown = set(sources) - {"primitives", "random_urdfs", "folder"}
    if unknown:
        raise ValueError(f"unknown object sources {sorted(unknown)}")
    if not specs:
        raise ValueError(f"no objects in split '{split}' from sources {sources}")
    return specs


def spawn(client: int, spec: ObjectSpec, rng: np.random.Generator, xy: np.ndarray, *,
          drop_height_m: float = 0.05, scale_range: tuple[float, float] = (0.6, 1.0)) -> int:
    """Create the object above ``xy`` with random yaw, size or scale, mass and friction."""
    if spec.source == "primitive":
        return _primitive(client, spec.name, rng, xy)
    scale = float(rng.uniform(*scale_range))
    orn = pybullet.getQuaternionFromEuler([rng.uniform(-np.pi, np.pi), 0.0, 0.0]
                                          if rng.random() < 0.3 else
                                          [0.0, 0.0, rng.uniform(-np.pi, np.pi)])
    pos = [float(xy[0]), float(xy[1]), drop_height_m + 0.05]
    if spec.source == "random_urdfs":
        path = Path(pybullet_data.getDataPath()) / "random_urdfs" / spec.name / \
            f"{spec.name}.urdf"
        body = pybullet.loadURDF(str(path), pos, orn, globalScaling=scale,
                                 physicsClientId=client)
    elif spec.name.endswith(".urdf"):
        body = pybullet.loadURDF(spec.name, pos, orn, globalScaling=scale,
                                 physicsClientId=client)
    else:
        shape = pybullet.createCollisionShape(pybullet.GEOM_MESH, fileName=spec.name,
                                              meshScale=[scale] * 3, physicsClientId=client)
        body = pybullet.createMultiBody(0.1, shape, basePosition=pos, baseOrientation=orn,
                                        physicsClientId=client)
    pybullet.changeDynamics(body, -1, mass=float(rng.uniform(0.05, 0.4)),
                            lateralFriction=float(rng.uniform(0.5, 1.0)),
                            physicsClientId=client)
    return body


def _primitive(client: int, kind: str, rng: np.random.Generator, xy: np.ndarray) -> int:
    # the order of the random draws is part of the seeded scenes the shipped model was
    # trained on: keep it
    if kind == "box":
        half = (float(rng.uniform(0.01, 0.035)), float(rng.uniform(0.015, 0.07)),
                float(rng.uniform(0.01, 0.04)))
        col = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half,
                                            physicsClientId=client)
        z = half[2]
    elif kind == "cylinder":
        radius, length = float(rng.uniform(0.015, 0.04)), float(rng.uniform(0.03, 0.14))
        col = pybullet.createCollisionShape(pybullet.GEOM_CYLINDER, radius=radius,
                                            height=length, physicsClientId=client)
        z = length / 2
    elif kind == "sphere":
        radius = float(rng.uniform(0.015, 0.04))
        col = pybullet.createCollisionShape(pybullet.GEOM_SPHERE, radius=radius,
                                            physicsClientId=client)
        z = radius
    else:
        raise ValueError(f"unknown primitive '{kind}'; expected one of {PRIMITIVES}")
    if kind == "cylinder" and rng.random() < 0.5:  # lying down half of the time
        orn = pybullet.getQuaternionFromEuler([np.pi / 2, 0.0, rng.uniform(-np.pi, np.pi)])
        z = radius
    else:
        orn = pybullet.getQuaternionFromEuler([0.0, 0.0, rng.uniform(-np.pi, np.pi)])
    body = pybullet.createMultiBody(baseMass=float(rng.uniform(0.05, 0.5)),
                                    baseCollisionShapeIndex=col,
                                    basePosition=[float(xy[0]), float(xy[1]), z + 0.02],
                                    baseOrientation=orn, physicsClientId=client)
    pybullet.changeDynamics(body, -1, lateralFriction=float(rng.uniform(0.5, 1.0)),
                            physicsClientId=client)
    return body
