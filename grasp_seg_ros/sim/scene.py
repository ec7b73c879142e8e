"""Objects dropped on a table in PyBullet (DIRECT mode, explicit client, seeded, no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet
import pybullet_data

from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise, render

PRIMITIVES = ("box", "cylinder", "sphere")


@dataclass(frozen=True)
class SceneConfig:
    """What to drop and where.

    Args:
        num_objects: (min, max) objects per scene.
        area_half_m: objects are dropped within +-area_half_m of the camera target.
        kinds: primitive kinds to draw from.
        settle_steps: physics steps (240 Hz) to let the objects come to rest.
    """

    num_objects: tuple[int, int] = (1, 5)
    area_half_m: float = 0.12
    kinds: tuple[str, ...] = PRIMITIVES
    settle_steps: int = 240


@dataclass
class SceneObject:
    body_id: int
    kind: str
    size_m: tuple[float, ...]  # box: half extents; cylinder: (radius, length); sphere: (radius,)


@dataclass
class Scene:
    """A live PyBullet world with a table and objects; close() frees the client."""

    client: int
    camera: CameraConfig
    objects: list[SceneObject] = field(default_factory=list)

    def render(self, noise: DepthNoise | None = None,
               rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(depth_m, body-id segmentation); noise needs an rng."""
        depth_m, seg = render(self.camera, self.client)
        if noise is not None:
            depth_m = noise.apply(depth_m, rng if rng is not None else np.random.default_rng())
        return depth_m, seg

    def close(self) -> None:
        if pybullet.isConnected(self.client):
            pybullet.disconnect(self.client)

    def __enter__(self) -> "Scene":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _add_primitive(client: int, kind: str, rng: np.random.Generator,
                   xy: np.ndarray) -> SceneObject:
    if kind == "box":
        half = (float(rng.uniform(0.01, 0.035)), float(rng.uniform(0.015, 0.07)),
                float(rng.uniform(0.01, 0.04)))
        col = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half,
                                            physicsClientId=client)
        size: tuple[float, ...] = half
        z = half[2]
    elif kind == "cylinder":
        radius, length = float(rng.uniform(0.015, 0.04)), float(rng.uniform(0.03, 0.14))
        col = pybullet.createCollisionShape(pybullet.GEOM_CYLINDER, radius=radius,
                                            height=length, physicsClientId=client)
        size, z = (radius, length), length / 2
    elif kind == "sphere":
        radius = float(rng.uniform(0.015, 0.04))
        col = pybullet.createCollisionShape(pybullet.GEOM_SPHERE, radius=radius,
                                            physicsClientId=client)
        size, z = (radius,), radius
    else:
        raise ValueError(f"unknown primitive '{kind}'; expected one of {PRIMITIVES}")
    if kind == "cylinder" and rng.random() < 0.5:  # lying down half of the time
        orn = pybullet.getQuaternionFromEuler([np.pi / 2, 0.0, rng.uniform(-np.pi, np.pi)])
        z = size[0]
    else:
        orn = pybullet.getQuaternionFromEuler([0.0, 0.0, rng.uniform(-np.pi, np.pi)])
    body = pybullet.createMultiBody(baseMass=float(rng.uniform(0.05, 0.5)),
                                    baseCollisionShapeIndex=col,
                                    basePosition=[float(xy[0]), float(xy[1]), z + 0.02],
                                    baseOrientation=orn, physicsClientId=client)
    pybullet.changeDynamics(body, -1, lateralFriction=float(rng.uniform(0.5, 1.0)),
                            physicsClientId=client)
    return SceneObject(body_id=body, kind=kind, size_m=size)


def make_scene(seed: int, *, camera: CameraConfig | None = None,
               config: SceneConfig | None = None) -> Scene:
    """Build and settle a scene; the same seed always gives the same scene."""
    camera = camera or CameraConfig()
    config = config or SceneConfig()
    rng = np.random.default_rng(seed)
    client = pybullet.connect(pybullet.DIRECT)
    try:
        pybullet.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        pybullet.setGravity(0, 0, -9.81, physicsClientId=client)
        pybullet.loadURDF("plane.urdf", physicsClientId=client)
        scene = Scene(client=client, camera=camera)
        n = int(rng.integers(config.num_objects[0], config.num_objects[1], endpoint=True))
        target = np.asarray(camera.target_xy_m)
        placed: list[np.ndarray] = []
        for _ in range(n):
            for _attempt in range(20):  # keep drop points apart so objects rarely stack
                xy = target + rng.uniform(-config.area_half_m, config.area_half_m, 2)
                if all(np.linalg.norm(xy - p) > 0.06 for p in placed):
                    break
            placed.append(xy)
            kind = config.kinds[int(rng.integers(len(config.kinds)))]
            scene.objects.append(_add_primitive(client, kind, rng, xy))
        for _ in range(config.settle_steps):
            pybullet.stepSimulation(physicsClientId=client)
        return scene
    except BaseException:
        pybullet.disconnect(client)
        raise
