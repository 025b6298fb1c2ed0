"""The configuration: every option once (type, default, help, choices, rule, when it applies), checked as a whole,
with errors that name the flags and the rule, and config.json holding only what applies."""

import numpy as np
import pytest

import tinygrad_np as tg
from mixer.config import ConfigError, MAEPretrainConfig, TrainConfig, VAEPretrainConfig
from mixer.training import make_model


def test_every_option_has_help_a_group_and_a_unique_flag():
    for config_class in (TrainConfig, MAEPretrainConfig, VAEPretrainConfig):
        options = config_class.options()
        assert len({option.flag for option in options.values()}) == len(options)
        for option in options.values():
            assert option.help.strip() and option.group in config_class.group_classes(), option.key
    groups = {option.group for option in TrainConfig.options().values()}
    assert groups == {"model", "data", "optimisation", "schedule", "regularisation", "averaging", "sam",
                      "pretraining", "run"}


def test_all_problems_are_reported_at_once_each_naming_its_flag():
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"lr": -1, "dim": 0, "holdout": 1.0, "model": "transformer"})
    assert caught.value.problems == ["--model transformer: must be one of mlp-mixer, convnext, hybrid, resnext",
                                     "--dim 0 must be >= 1", "--holdout 1 must be in [0, 1)", "--lr -1 must be > 0"]


def test_types_are_checked_and_whole_numbers_accepted_as_floats():
    config = TrainConfig.from_dict({"lr": 1, "warmup-epochs": 0})
    assert config.optimisation.lr == 1.0 and isinstance(config.schedule.warmup_epochs, float)
    for values, expected in (({"lr": True}, "must be a number, not True (true/false)"),
                             ({"epochs": 2.5}, "must be an integer, not 2.5 (a number)"),
                             ({"init_from_mae": 3}, "must be a path (a string) or null"),
                             ({"model": {"dim": "8"}}, "key [model] 'dim' (--dim) must be an integer")):
        with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                           .replace("]", r"\]")):
            TrainConfig.from_dict(values)


def test_a_default_warm_up_longer_than_the_run_is_halved_with_a_note_a_chosen_one_is_an_error():
    for config_class in (TrainConfig, MAEPretrainConfig, VAEPretrainConfig):
        config, notes = config_class.parse({"epochs": 1})
        assert config.schedule.warmup_epochs == 0.5 and "shortened to 0.5 epochs" in notes[0]
        with pytest.raises(ConfigError, match="--warmup-epochs 2 must be shorter than --epochs 2"):
            config_class.from_dict({"epochs": 2, "warmup_epochs": 2})
    assert TrainConfig.parse({"epochs": 2})[1] == []


def test_a_patch_size_that_does_not_divide_the_features_says_it_pads():
    notes = TrainConfig.parse({"patch_size": 5})[1]
    assert notes == ["--patch-size 5 does not divide the 42 features: the last token is zero-padded (9 tokens of 5, "
                     "3 zeros)"]
    assert MAEPretrainConfig.parse({"patch_size": 4})[1][0].startswith("--patch-size 4 does not divide")
    assert TrainConfig.parse({"patch_size": 6})[1] == [] and TrainConfig.parse({"model": "convnext",
                                                                                "patch_size": 5})[1] == []


def test_options_that_do_not_apply_are_refused_when_set_and_left_out_of_config_json():
    with pytest.raises(ConfigError, match=r"--sam-rho does not apply to --sam none \(only to --sam sam \| asam"):
        TrainConfig.from_dict({"sam_rho": 0.1})
    with pytest.raises(ConfigError, match="--noise-power does not apply without --noise-scale"):
        TrainConfig.from_dict({"noise_scale": 1e-4, "noise_power": 1.0})
    with pytest.raises(ConfigError, match="--init-from-mae does not apply to --model convnext"):
        TrainConfig.from_dict({"model": "convnext", "init_from_mae": "mae.npz"})
    assert TrainConfig.from_dict({"t0": 10.0}).schedule.t0 == 10.0  # its default changes nothing: no error

    applied = TrainConfig.from_dict({"model": "convnext", "scheduler": "warm-restarts", "sam": "ssam-f",
                                     "noise_scale": 1e-4, "noise_schedule": "power"}).applicable()
    assert set(applied["model"]) == {"model", "dim", "depth", "patch_size", "kernel_size", "num_stages",
                                     "numeric_embedding"}  # none: the plain scalar, as for every model
    assert set(applied["schedule"]) == {"epochs", "scheduler", "warmup_epochs", "eta_min", "t0", "t_mult"}
    assert set(applied["sam"]) == {"sam", "sam_rho", "sam_sparsity", "sam_update_freq", "sam_num_samples",
                                   "noise_scale", "noise_schedule", "noise_power", "noise_reference_epochs"}
    plain = TrainConfig.from_dict({"scheduler": "none"}).applicable()
    assert set(plain["model"]) == {"model", "dim", "depth", "patch_size", "token_mixer", "token_expansion",
                                   "channel_expansion", "stem", "tokens", "numeric_embedding", "periodic_frequencies",
                                   "periodic_dim", "periodic_sigma", "ensemble_size"}
    assert "eta_min" not in plain["schedule"] and "init_from_mae" not in plain.get("pretraining", {})


def test_the_flat_form_round_trips_through_a_checkpoint():
    config = TrainConfig.from_dict({"model": "hybrid", "block": "resnet", "depth": 6, "lr": 1e-3})
    again = TrainConfig.from_dict(config.flat())  # every option, non-applicable ones at their defaults
    assert again == config
    assert TrainConfig.from_dict(config.applicable()) == config


# Each model option set to another value than its default (with what it needs beside it).
OTHER_VALUES = {"token_mixer": {"token_mixer": "lambda"}, "token_expansion": {"token_expansion": 2.0},
                "channel_expansion": {"channel_expansion": 1.0}, "stem": {"stem": "inception"},
                "tokens": {"tokens": "feature"}, "ple_bins": {"numeric_embedding": "ple", "ple_bins": 4},
                "periodic_frequencies": {"periodic_frequencies": 4}, "periodic_dim": {"periodic_dim": 4},
                "periodic_sigma": {"periodic_sigma": 0.5}, "ensemble_size": {"ensemble_size": 2},
                "block": {"block": "resnet"}, "kernel_size": {"kernel_size": 5}, "num_stages": {"num_stages": 1},
                "mixers_per_stage": {"mixers_per_stage": 2, "depth": 6}}


@pytest.mark.parametrize("model", ["mlp-mixer", "convnext", "hybrid", "resnext"])
def test_the_options_a_model_owns_reach_it_and_no_other_option_applies(model):
    """The option table is the one source of which options belong to which model (`models=`): each of them changes
    the model make_model builds, and each model option of the other models is refused."""
    def built(values):
        config = TrainConfig.from_dict({"model": model, "dim": 8, "depth": 4, "categorical": "numeric", **values})
        tg.manual_seed(0)
        state = make_model(config, 2, ple_edges=np.tile(np.linspace(-1, 1, 5, dtype=np.float32), (42, 1)))
        return {name: array for name, array in state.state_dict().items()}

    owned = TrainConfig.model_options(model)
    assert owned and set(owned) <= set(OTHER_VALUES)
    base = built({})
    for key in owned:
        other = built(OTHER_VALUES[key])
        assert other.keys() != base.keys() or any(not np.array_equal(other[name], base[name]) for name in base), key
    for key in sorted(set(OTHER_VALUES) - set(owned)):
        with pytest.raises(ConfigError, match=f"does not apply to --model {model}"):
            TrainConfig.from_dict({"model": model, **OTHER_VALUES[key]})
