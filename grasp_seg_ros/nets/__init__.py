"""Torch modules for grasp maps, a registry by name, and weight-file I/O."""

from grasp_seg_ros.nets.registry import MODELS, get_model, list_models

__all__ = ["MODELS", "get_model", "list_models"]
