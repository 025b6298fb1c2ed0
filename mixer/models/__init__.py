"""Model definitions, by name for the command line."""

from __future__ import annotations

from typing import Any

from tinygrad_np import nn

from .mlp_mixer import MixerBlock, MlpBlock, MLPMixer1D

MODELS: dict[str, type[nn.Module]] = {"mlp-mixer": MLPMixer1D}


def build_model(name: str, **config: Any) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


__all__ = ["MODELS", "MLPMixer1D", "MixerBlock", "MlpBlock", "build_model"]
