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

import functools
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


@dataclass(frozen=True)
class ObjectPhysics:
    """Realistic masses and friction: mass = volume x density, clamped to real objects.

    Args:
        density_kg_m3: (min, max) density; hollow packaging and plastic parts sit low, wood in
            the middle, full bottles and solid plastic near water.
        mass_kg: (min, max) clamp of the resulting mass.
        friction: (min, max) lateral friction of the object's surface (PyBullet multiplies it
            with the pad's).
    """

    density_kg_m3: tuple[float, float] = (150.0, 1000.0)
    mass_kg: tuple[float, float] = (0.02, 1.0)
    friction: tuple[float, float] = (0.4, 0.8)


@functools.lru_cache(maxsize=2048)
def _mesh_volume_unit(path: str) -> float:
    """Volume of a closed .obj mesh at scale 1 (signed tetrahedra); 0 when unreadable."""
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("v "):
                    vertices.append([float(v) for v in line.split()[1:4]])
                elif line.startswith("f "):
                    faces.append([int(t.split("/")[0]) for t in line.split()[1:]])
    except (OSError, ValueError):
        return 0.0
    if not vertices or not faces:
        return 0.0
    v = np.asarray(vertices)
    total = 0.0
    for face in faces:
        idx = [i - 1 if i > 0 else len(v) + i for i in face]
        for k in range(1, len(idx) - 1):  # fan triangulation
            total += float(np.dot(v[idx[0]], np.cross(v[idx[k]], v[idx[k + 1]]))) / 6.0
    return abs(total)


def body_volume_m3(client: int, body: int) -> float:
    """The base's collision volume: exact for primitives, the mesh's volume for meshes
    (half its bounding box when the mesh is not closed)."""
    shape = pybullet.getCollisionShapeData(body, -1, physicsClientId=client)[0]
    geom, dims = shape[2], shape[3]
    if geom == pybullet.GEOM_BOX:
        return float(np.prod(dims))
    if geom == pybullet.GEOM_SPHERE:
        return float(4.0 / 3.0 * np.pi * dims[0] ** 3)
    if geom == pybullet.GEOM_CYLINDER:
        return float(np.pi * dims[1] ** 2 * dims[0])
    volume = 0.0
    if geom == pybullet.GEOM_MESH and shape[4]:
        volume = _mesh_volume_unit(shape[4].decode()) * float(np.prod(dims))
    lo, hi = pybullet.getAABB(body, physicsClientId=client)
    box = float(np.prod(np.subtract(hi, lo)))
    return volume if 0.0 < volume <= box else 0.5 * box


def apply_physics(client: int, body: int, physics: ObjectPhysics,
                  rng: np.random.Generator) -> float:
    """Give a body a mass from its volume and a random density, and a friction; returns the
    mass in kg."""
    density = float(rng.uniform(*physics.density_kg_m3))
    mass = float(np.clip(body_volume_m3(client, body) * density, *physics.mass_kg))
    pybullet.changeDynamics(body, -1, mass=mass,
                            lateralFriction=float(rng.uniform(*physics.friction)),
                            spinningFriction=0.001, rollingFriction=0.0001,
                            physicsClientId=client)
    return mass
