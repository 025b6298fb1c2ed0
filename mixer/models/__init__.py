"""Model definitions, and by name the models and the layer choices that the command line offers: each list is
defined here once (`mixer.config` reads its choices from it, `mixer.training.make_model` its layers)."""

from __future__ import annotations

import functools
from typing import Any

from tinygrad_np import nn

from .conv import CONV_BLOCKS, ConvNeXt1D, ConvNeXtBlock1D, HybridMixer, ResNetBlock1D, ResNeXt1D, ResNeXtBlock1D
from .inception import InceptionBlock1D
from .lambda_layer import LambdaLayer1D, lambda_token_mixer
from .mae import ENCODER_TOKENS, MixerMAE, random_masking
from .mlp_mixer import MixerBlock, MlpBlock, MLPMixer1D, TokenMixerLayer, mlp_token_mixer
from .tabular import NUMERIC_EMBEDDINGS, TOKENS, StemLayer
from .vae import LatentAugmenter, TabularVAE

# "resnext" is ResNeXt1D: ConvNeXt1D's stages with depthwise-separable ResNeXt bottleneck blocks
# (HybridMixer(block=ResNeXtBlock1D) puts the same blocks in front of Mixer blocks).
MODELS: dict[str, type[nn.Module]] = {"mlp-mixer": MLPMixer1D, "convnext": ConvNeXt1D, "hybrid": HybridMixer,
                                      "resnext": ResNeXt1D}
# The mlp-mixer's token mixers and stems (None: the token MLP; linear patches).
TOKEN_MIXERS: dict[str, TokenMixerLayer | None] = {"mlp": None, "lambda": lambda_token_mixer()}
STEMS: dict[str, StemLayer | None] = {"linear": None,
                                      "inception": functools.partial(InceptionBlock1D, out_channels=16)}


def build_model(name: str, **config: Any) -> nn.Module:
    """The model `name` of MODELS, built with `config` as its constructor's arguments."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


__all__ = ["CONV_BLOCKS", "ENCODER_TOKENS", "MODELS", "NUMERIC_EMBEDDINGS", "STEMS", "TOKENS", "TOKEN_MIXERS",
           "ConvNeXt1D", "ConvNeXtBlock1D", "HybridMixer", "InceptionBlock1D", "LambdaLayer1D", "LatentAugmenter",
           "MLPMixer1D", "MixerBlock", "MixerMAE", "MlpBlock", "ResNeXt1D", "ResNeXtBlock1D", "ResNetBlock1D",
           "TabularVAE", "build_model", "lambda_token_mixer", "mlp_token_mixer", "random_masking"]
