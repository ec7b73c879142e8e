"""Parameter declaration shared by the package's nodes: one table per node, each entry with
its default, description and range, declared so `ros2 param describe` shows them."""

from __future__ import annotations

from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node


@dataclass(frozen=True)
class ParamSpec:
    default: object
    description: str
    range: tuple[float, float] | None = None
    reloads_model: bool = False
    read_only: bool = False


def descriptor(name: str, spec: ParamSpec) -> ParameterDescriptor:
    """The descriptor of one parameter: integer or floating-point range by the default's type."""
    desc = ParameterDescriptor(name=name, description=spec.description,
                               read_only=spec.read_only)
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        else:
            desc.floating_point_range = [FloatingPointRange(from_value=float(lo),
                                                            to_value=float(hi), step=0.0)]
    return desc


def declare(node: Node, specs: dict[str, ParamSpec]) -> dict[str, object]:
    """Declare every parameter of ``specs`` on ``node``; returns their values (overrides from
    the command line and parameter files applied)."""
    for name, spec in specs.items():
        node.declare_parameter(name, spec.default, descriptor(name, spec))
    return {name: node.get_parameter(name).value for name in specs}
