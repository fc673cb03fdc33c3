"""The segtf model family: backbones, heads, and the registry of named configurations."""

from segtf.models.config import ModelConfig
from segtf.models.registry import (
    MODELS,
    build,
    build_from_config,
    get_config,
    list_models,
    register_model,
)

__all__ = [
    "MODELS",
    "ModelConfig",
    "build",
    "build_from_config",
    "get_config",
    "list_models",
    "register_model",
]
