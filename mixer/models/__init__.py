"""Model definitions, by name for the command line."""

from __future__ import annotations

from typing import Any

from tinygrad_np import nn

from .conv import ConvNeXt1D, ConvNeXtBlock1D, HybridMixer, ResNetBlock1D, ResNeXt1D, ResNeXtBlock1D
from .inception import InceptionBlock1D
from .lambda_layer import LambdaLayer1D
from .mae import MixerMAE, random_masking
from .mlp_mixer import MixerBlock, MlpBlock, MLPMixer1D
from .vae import LatentAugmenter, TabularVAE

# "resnext" is ResNeXt1D: ConvNeXt1D's stages with depthwise-separable ResNeXt bottleneck blocks
# (HybridMixer(block="resnext") puts the same blocks in front of Mixer blocks).
MODELS: dict[str, type[nn.Module]] = {"mlp-mixer": MLPMixer1D, "convnext": ConvNeXt1D, "hybrid": HybridMixer,
                                      "resnext": ResNeXt1D}


def build_model(name: str, **config: Any) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


__all__ = ["MODELS", "ConvNeXt1D", "ConvNeXtBlock1D", "HybridMixer", "InceptionBlock1D", "LambdaLayer1D",
           "LatentAugmenter", "MLPMixer1D", "MixerBlock", "MixerMAE", "MlpBlock", "ResNeXt1D", "ResNeXtBlock1D",
           "ResNetBlock1D", "TabularVAE", "build_model", "random_masking"]
