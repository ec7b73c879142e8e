"""A training run's recipe, typed: what ``grasp-seg train --recipe FILE --set KEY=VALUE`` reads.

A recipe file (config/train/*.yaml) gives any subset of the sections below; everything it
leaves out takes the default written here. Unknown keys, values of the wrong type and values
outside their choices are refused with the key's name, before any data is read. The run folder
records the resolved recipe (:meth:`Recipe.to_dict`), so a run can be read back and repeated.
"""

from __future__ import annotations

import copy
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from grasp_seg_ros.core.heightmap import HeightMapSpec
from grasp_seg_ros.training.augmentation import Augmentation, GridAugmentation


@dataclass
class ModelRecipe:
    arch: str = "ggcnn"
    kwargs: dict[str, Any] = field(default_factory=dict)   #: the architecture's arguments
    #: a model file (path or shipped name) of the same architecture to start from
    init: str | None = None


@dataclass
class DataRecipe:
    kind: str = "synthetic"          #: synthetic | jacquard | cornell | graded
    train: str = "data/synthetic/train"
    #: more roots of graded height-map scenes (data.input height_map), appended to train's;
    #: the validation split is drawn over all of them
    extra_train: tuple[str, ...] = ()
    val: str | None = None           #: none: a val_fraction of train, split by ``split``
    test: str | None = None
    depth: str = "stereo"            #: stereo | perfect (synthetic and graded data)
    split: str = "image"             #: image | object
    val_fraction: float = 0.1
    object_map: str | None = None    #: Cornell's object id file
    crop_size_px: int = 300
    centre_on_grasps: bool = False
    max_samples: int | None = None
    #: depth_crop, or height_map (data kind graded: the generator's graded labels)
    input: str = "depth_crop"
    height_map: HeightMapSpec = field(default_factory=HeightMapSpec)
    angle_bins: int = 0              #: 0: the cos/sin angle head; B > 0: B quality bins
    width_scale_px: float = 150.0
    background_weight: float = 1.0
    unlabelled_objects: str = "bad"  #: bad | unknown (object cells no candidate covers)
    raised_background_weight: float = 1.0   #: non-object cells above the plane (tray walls)


@dataclass
class TrainRecipe:
    epochs: int = 10
    batch_size: int = 8
    optimizer: str = "adam"          #: adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"         #: cosine | poly
    poly_power: float = 0.9
    warmup_steps: int = 0
    grad_clip: float = 0.0
    seed: int = 0
    num_workers: int = 0
    max_steps_per_epoch: int | None = None
    threads: int = 0                 #: torch threads; 0: torch's default
    aux_weight: float = 0.4
    #: binned heads: the listwise term between a cell's directions (losses.bin_ranking_loss)
    rank_weight: float = 0.0
    rank_temperature: float = 0.1

    def binned_options(self) -> dict[str, float]:
        """The options of binned heads' losses (losses.binned_map_losses)."""
        return {"rank_weight": self.rank_weight, "rank_temperature": self.rank_temperature}


@dataclass
class DistillRecipe:
    teacher: str | None = None       #: a model file (path or shipped name); none: no teacher
    kd_weight: float = 1.0
    gt_weight: float = 1.0
    feature_weight: float = 0.0
    feature_layer: str = "layer4"


@dataclass
class EvalRecipe:
    top_k: tuple[int, ...] = (1, 5)
    plot_images: int = 4


CHOICES: dict[str, tuple[str, ...]] = {
    "data.kind": ("synthetic", "jacquard", "cornell", "graded"),
    "data.depth": ("stereo", "perfect"),
    "data.split": ("image", "object"),
    "data.input": ("depth_crop", "height_map"),
    "data.unlabelled_objects": ("bad", "unknown"),
    "train.optimizer": ("adam", "sgd"),
    "train.schedule": ("cosine", "poly"),
}


@dataclass
class Recipe:
    name: str = "run"
    description: str = ""
    out: str = "runs/run"
    model: ModelRecipe = field(default_factory=ModelRecipe)
    data: DataRecipe = field(default_factory=DataRecipe)
    #: none: no augmentation; height-map inputs use rotation_deg, flip and max_shift_px
    augmentation: Augmentation | None = field(default_factory=Augmentation)
    train: TrainRecipe = field(default_factory=TrainRecipe)
    distill: DistillRecipe = field(default_factory=DistillRecipe)
    eval: EvalRecipe = field(default_factory=EvalRecipe)

    @classmethod
    def from_dict(cls, values: dict | None, where: str = "recipe") -> "Recipe":
        """The recipe of a (partial) mapping; refuses unknown keys and wrong values."""
        recipe = _build(cls, values or {}, where)
        recipe.validate()
        return recipe

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML-ready values (tuples as lists), every key present."""
        return _plain(asdict(self))

    def validate(self) -> None:
        for key, allowed in CHOICES.items():
            section, name = key.split(".")
            value = getattr(getattr(self, section), name)
            if value not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        self.data.height_map.validate()
        t = self.train
        if not (math.isfinite(t.lr) and t.lr >= 0.0):
            raise ValueError(f"train.lr must be finite and >= 0, got {t.lr}")
        for key, value in (("train.epochs", t.epochs), ("train.batch_size", t.batch_size)):
            if value < 1:
                raise ValueError(f"{key} must be at least 1, got {value}")
        if not 0.0 < self.data.val_fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in (0, 1), got {self.data.val_fraction}")
        if self.data.angle_bins < 0:
            raise ValueError(f"data.angle_bins must be 0 (cos/sin head) or a bin count, got "
                             f"{self.data.angle_bins}")
        bins = self.model.kwargs.get("angle_bins")
        if self.data.angle_bins and bins is not None and bins != self.data.angle_bins:
            raise ValueError(f"model.kwargs.angle_bins {bins} != data.angle_bins "
                             f"{self.data.angle_bins}")
        if self.data.extra_train and self.data.input != "height_map":
            raise ValueError("data.extra_train adds graded height-map scenes; it needs "
                             f"data.input height_map (got {self.data.input!r})")
        if self.data.input == "height_map" and self.data.kind != "graded":
            raise ValueError("data.input height_map trains on the generator's graded labels: "
                             f"set data.kind to 'graded' (got {self.data.kind!r})")

    def model_kwargs(self) -> dict[str, Any]:
        """model.kwargs with data.angle_bins (the heads must match the targets)."""
        kwargs = dict(self.model.kwargs)
        if self.data.angle_bins:
            kwargs["angle_bins"] = self.data.angle_bins
        return kwargs

    def grid_augmentation(self) -> GridAugmentation | None:
        """The height-map grid's moves of this recipe's augmentation."""
        a = self.augmentation
        return None if a is None else GridAugmentation(
            rotation_deg=a.rotation_deg, mirror=a.flip, max_shift_px=a.max_shift_px)


def apply_sets(values: dict, sets: typing.Iterable[str]) -> dict:
    """--set a.b=value (value parsed as YAML) overrides of a mapping, in place."""
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        node = values
        parts = key.split(".")
        for p in parts[:-1]:
            if node.get(p) is None:
                node[p] = {}
            node = node[p]
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {p} is not a section")
        node[parts[-1]] = yaml.safe_load(value)
    return values


def load_recipe(path: Path | None, sets: typing.Iterable[str] = ()) -> Recipe:
    """The recipe of a YAML file (none: the defaults) with --set overrides applied."""
    values: dict = {}
    if path is not None:
        values = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a recipe is a mapping of sections")
    values = apply_sets(copy.deepcopy(values), sets)
    try:
        return Recipe.from_dict(values)
    except ValueError as exc:
        raise ValueError(f"{path or '<defaults>'}: {exc}") from None


def _build(cls, values: Any, where: str):
    if not isinstance(values, dict):
        raise ValueError(f"'{where}' must be a mapping, got {values!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown keys in '{where}': {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    return replace(cls(), **{k: _coerce(v, hints[k], f"{where}.{k}" if where != "recipe"
                                        else k) for k, v in values.items()})


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _coerce(value, hint, where)
    if is_dataclass(hint):
        return _build(hint, value, where)
    wrong = ValueError(f"{where} must be {getattr(hint, '__name__', hint)}, got {value!r}")
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if hint in (int, float):
        if isinstance(value, bool) or value is None:
            raise wrong
        try:
            number = float(value)      # YAML reads 1e-3 (no dot) as a string
        except (TypeError, ValueError):
            raise wrong from None
        if hint is int:
            if not number.is_integer():
                raise wrong
            return int(number)
        return number
    if hint is str:
        if isinstance(value, (dict, list)) or value is None:
            raise wrong
        return str(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise wrong
        item_hints = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(item_hints) != len(value):
            raise ValueError(f"{where} must have {len(item_hints)} values, got {value!r}")
        return tuple(_coerce(v, h, f"{where}[{i}]")
                     for i, (v, h) in enumerate(zip(value, item_hints)))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise wrong
        return dict(value)
    raise TypeError(f"{where}: no conversion to {hint}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
