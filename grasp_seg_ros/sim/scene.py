"""Objects dropped on a table or into a tray in PyBullet (DIRECT mode, explicit client,
seeded, nothing global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data

from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise, render
from grasp_seg_ros.sim.objects import (ObjectPhysics, ObjectSpec, apply_physics, catalogue,
                                       spawn)

TRAY_SCALE = 0.5  # pybullet_data's 60 cm tray at half size: 30 cm, walls 6 cm
#: top of the tray's floor above the table: traybox.urdf's floor is a 2 cm thick box centred
#: 5 mm up, scaled with the tray (what the gripper's clearance is measured from)
TRAY_FLOOR_TOP_M = (0.005 + 0.01) * TRAY_SCALE


@dataclass(frozen=True)
class SceneConfig:
    """What to drop and where.

    Args:
        num_objects: (min, max) objects per scene.
        area_half_m: objects are dropped within +-area_half_m of the camera target.
        sources: object sources ('primitives', 'random_urdfs', 'folder'); see sim.objects.
        split: which objects ('train', 'val', 'test'); see sim.objects for the rule.
        object_dir: the folder for the 'folder' source.
        tray: drop into a tray instead of onto the bare table.
        settle_steps: physics steps (240 Hz) to let the objects come to rest.
        physics: masses from volume and density, and friction (sim.objects.ObjectPhysics);
            None keeps the first generator's draws (50-500 g whatever the size, friction
            0.5-1.0), which the shipped models' training scenes used.
    """

    num_objects: tuple[int, int] = (1, 5)
    area_half_m: float = 0.12
    sources: tuple[str, ...] = ("primitives",)
    split: str = "train"
    object_dir: Path | None = None
    tray: bool = False
    settle_steps: int = 240
    physics: ObjectPhysics | None = ObjectPhysics()


@dataclass
class SceneObject:
    body_id: int
    spec: ObjectSpec
    mass_kg: float | None = None

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass
class Scene:
    """A live PyBullet world with a table and objects; close() frees the client."""

    client: int
    camera: CameraConfig
    objects: list[SceneObject] = field(default_factory=list)
    table_z_m: float = 0.0   #: top of what the objects rest on: the table, or the tray's floor

    def render(self, noise: DepthNoise | None = None,
               rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(depth_m, body-id segmentation); noise needs an rng."""
        depth_m, seg = render(self.camera, self.client)
        if noise is not None:
            depth_m = noise.apply(depth_m, rng if rng is not None else np.random.default_rng())
        return depth_m, seg

    def remove(self, body_id: int) -> None:
        pybullet.removeBody(body_id, physicsClientId=self.client)
        self.objects = [o for o in self.objects if o.body_id != body_id]

    def settle(self, steps: int = 120) -> None:
        """Step the physics (240 Hz): what a parked gripper let go of falls back and rests."""
        for _ in range(steps):
            pybullet.stepSimulation(physicsClientId=self.client)

    def objects_on_table(self, *, max_height_m: float = 0.5) -> list[SceneObject]:
        """Objects still in the workspace (not lifted away or fallen off)."""
        out = []
        for o in self.objects:
            z = pybullet.getBasePositionAndOrientation(o.body_id,
                                                       physicsClientId=self.client)[0][2]
            if self.table_z_m - 0.05 < z < max_height_m:
                out.append(o)
        return out

    def close(self) -> None:
        if pybullet.isConnected(self.client):
            pybullet.disconnect(self.client)

    def __enter__(self) -> "Scene":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_scene(seed: int, *, camera: CameraConfig | None = None,
               config: SceneConfig | None = None) -> Scene:
    """Build and settle a scene; the same seed always gives the same scene."""
    camera = camera or CameraConfig()
    config = config or SceneConfig()
    specs = catalogue(config.split, config.sources, config.object_dir)
    rng = np.random.default_rng(seed)
    client = pybullet.connect(pybullet.DIRECT)
    try:
        pybullet.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        pybullet.setGravity(0, 0, -9.81, physicsClientId=client)
        # Bullet's friction pyramid instead of pybullet's cone: the same grasps hold (77% of
        # label trials against 81%, same seeds) at 0.7x the cost of a step
        pybullet.setPhysicsEngineParameter(enableConeFriction=0, physicsClientId=client)
        pybullet.loadURDF("plane.urdf", physicsClientId=client)
        target = np.asarray(camera.target_xy_m)
        if config.tray:
            pybullet.loadURDF("tray/traybox.urdf", [target[0], target[1], 0.0],
                              globalScaling=TRAY_SCALE, useFixedBase=True,
                              physicsClientId=client)
        scene = Scene(client=client, camera=camera,
                      table_z_m=TRAY_FLOOR_TOP_M if config.tray else 0.0)
        n = int(rng.integers(config.num_objects[0], config.num_objects[1], endpoint=True))
        placed: list[np.ndarray] = []
        for _ in range(n):
            for _attempt in range(20):  # keep drop points apart so objects rarely stack
                xy = target + rng.uniform(-config.area_half_m, config.area_half_m, 2)
                if all(np.linalg.norm(xy - p) > 0.06 for p in placed):
                    break
            placed.append(xy)
            spec = specs[int(rng.integers(len(specs)))]
            scene.objects.append(SceneObject(spawn(client, spec, rng, xy), spec))
        if config.physics is not None:
            # a stream of its own: the scene's shapes and poses stay those of the seed
            physics_rng = np.random.default_rng([seed, 7])
            for obj in scene.objects:
                obj.mass_kg = apply_physics(client, obj.body_id, config.physics, physics_rng)
        for _ in range(config.settle_steps):
            pybullet.stepSimulation(physicsClientId=client)
        return scene
    except BaseException:
        pybullet.disconnect(client)
        raise
