"""The tabular options of the MLP-Mixer: per-feature tokens, PLE and PLR numerical embeddings, the TabM-mini
ensemble -- gradients, references written out as loops, the configuration rules, and short runs that save, reload,
evaluate and resume."""

import functools
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from unsw_sample import REAL, ctrl_c_in_epoch, needs_data, sample_folder

import tinygrad_np as tg
from mixer import data as unsw
from mixer.checkpoint import load_checkpoint
from mixer.cli import main
from mixer.config import ConfigError, TrainConfig
from mixer.models import STEMS, MLPMixer1D
from mixer.models.tabular import (
    FeatureTokenizer,
    PeriodicEmbedding,
    PiecewiseLinearEncoding,
    StackedLinear,
    fit_ple_edges,
)
from mixer.run import Interrupted
from mixer.training import Trainer, load_trained, loss_fn, make_model, numeric_positions, predict_proba
from tinygrad_np import Tensor, gradcheck
from tinygrad_np.testing import check_op

CATEGORIES = {1: 4, 2: 3, 6: 5}  # position: number of codes (0 is "unknown")
NUMERIC = [0, 3, 4, 5, 7, 8, 9]
# true edges per feature (3 bins, 1 bin, 4 bins), padded to 4 bins by repeating the last edge
EDGES = np.array([[-1.0, 0.0, 0.5, 2.0, 2.0], [0.0, 1.0, 1.0, 1.0, 1.0], [-2.0, -1.0, 0.0, 1.0, 3.0]], np.float32)
TRUE_EDGES = [[-1.0, 0.0, 0.5, 2.0], [0.0, 1.0], [-2.0, -1.0, 0.0, 1.0, 3.0]]


def rows(n, seed=0, categories=CATEGORIES, seq_len=10):
    """(n, seq_len) float64 rows: normal values, integer codes at the categorical positions."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, seq_len))
    for position, size in categories.items():
        x[:, position] = rng.integers(0, size, n)
    return x


def double(module):
    return module.to(np.float64)


# -- piecewise-linear encoding -------------------------------------------------------------------------------------
def ple_reference(x, edges):
    """The paper's Eq. 1, one value and one component at a time: component t of bin [e_t, e_t+1) is 1 past the
    bin, 0 before it, linear inside; the first has no 0 below, the last no 1 above, a lone bin neither."""
    features, batch = x.shape
    out = np.zeros((features, batch, 4))
    for j, e in enumerate(edges):
        n = len(e) - 1
        for b in range(batch):
            v = x[j, b]
            for t in range(n):
                inside = (v - e[t]) / (e[t + 1] - e[t])
                if n > 1 and t < n - 1 and v >= e[t + 1]:
                    out[j, b, t] = 1.0
                elif n > 1 and t > 0 and v < e[t]:
                    out[j, b, t] = 0.0
                else:
                    out[j, b, t] = inside
    return out


def test_ple_matches_the_papers_formula_written_as_a_loop():
    x = np.array([[-3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 5.0],
                  [-2.0, 0.0, 0.3, 1.0, 1.5, 4.0, -0.1, 0.9, 0.5],
                  [-5.0, -2.0, -1.5, -0.2, 0.0, 0.7, 2.0, 3.0, 9.0]])
    got = PiecewiseLinearEncoding(3, 4, EDGES)(Tensor(x, dtype=np.float64)).numpy()
    np.testing.assert_allclose(got, ple_reference(x, TRUE_EDGES), rtol=0, atol=1e-12)
    assert got[0, 0, 0] < 0 and got[0, -1, 2] > 1 and got[1, -4, 0] == 4.0  # open-ended first / last / lone bin
    np.testing.assert_array_equal(got[0, :, 3], 0.0)  # padding stays 0
    np.testing.assert_array_equal(got[1, :, 1:], 0.0)


def test_ple_gradients_away_from_the_edges():
    layer = PiecewiseLinearEncoding(3, 4, EDGES)
    check_op(layer, shapes=st.tuples(st.tuples(st.just(3), st.integers(1, 4))), domain=(-4.0, 4.0),
             avoid=sorted(set(EDGES.ravel().tolist())), margin=1e-2)


def test_fit_ple_edges_takes_quantiles_merges_duplicates_and_pads():
    column = np.arange(17.0)  # quantiles at 0, 1/4, ..., 1 of 0..16 are 0, 4, 8, 12, 16
    mostly_zero = np.r_[np.zeros(12), np.arange(1.0, 6.0)]  # 12 zeros, then 1..5: levels 0-0.5 all land on 0
    constant = np.full(17, 2.5)
    edges = fit_ple_edges(np.stack([column, mostly_zero, constant], axis=1).astype(np.float32), 4)
    assert edges.dtype == np.float32 and edges.shape == (3, 5)
    np.testing.assert_array_equal(edges[0], [0, 4, 8, 12, 16])
    # levels 0.75 and 1 of mostly_zero: positions 12 (value 1) and 16 (value 5); 0, 0.25, 0.5 merge into one 0
    np.testing.assert_array_equal(edges[1], [0, 1, 5, 5, 5])
    np.testing.assert_array_equal(edges[2], [2.5, 3.5, 3.5, 3.5, 3.5])  # one bin of width 1
    with pytest.raises(ValueError, match="NaN"):
        fit_ple_edges(np.array([[np.nan], [1.0]]), 4)


def test_ple_edges_are_checked_and_unset_edges_refuse_to_run():
    with pytest.raises(ValueError, match=r"shape \(3, 5\); expected \(3, 4\)"):
        PiecewiseLinearEncoding(3, 3, EDGES)
    with pytest.raises(ValueError, match="increasing"):
        PiecewiseLinearEncoding(1, 2, np.array([[0.0, 0.0, 1.0]]))  # padding in front
    unset = PiecewiseLinearEncoding(3, 4)
    with pytest.raises(RuntimeError, match="bin edges are not set"):
        unset(Tensor(np.zeros((3, 2))))
    unset.load_state_dict({"edges": EDGES})
    assert unset(Tensor(np.zeros((3, 2)))).shape == (3, 2, 4)


# -- per-feature layers and PLR ------------------------------------------------------------------------------------
@given(n=st.integers(1, 4), batch=st.integers(1, 3), inputs=st.integers(1, 4), outputs=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_stacked_linear_is_one_linear_per_slice_and_its_gradients_check(n, batch, inputs, outputs, seed):
    tg.manual_seed(seed)
    layer = double(StackedLinear(n, inputs, outputs))
    x = Tensor(np.random.default_rng(seed).normal(size=(n, batch, inputs)), dtype=np.float64, requires_grad=True)
    expected = [x.numpy()[i] @ layer.weight.numpy()[i] + layer.bias.numpy()[i] for i in range(n)]
    np.testing.assert_allclose(layer(x).numpy(), np.stack(expected), rtol=1e-12, atol=1e-12)
    gradcheck(lambda x, *params: layer(x), x, *layer.parameters())


@given(seq_len=st.integers(1, 6), inputs=st.integers(1, 3), dim=st.integers(1, 4), batch=st.integers(1, 3),
       data=st.data())
def test_feature_tokenizer_against_a_per_feature_loop_with_gradients(seq_len, inputs, dim, batch, data):
    positions = sorted(data.draw(st.sets(st.integers(0, seq_len - 1), min_size=1), label="numeric positions"))
    seed = data.draw(st.integers(0, 2**16), label="seed")
    tg.manual_seed(seed)
    layer = double(FeatureTokenizer(seq_len, positions, inputs, dim))
    x = Tensor(np.random.default_rng(seed).normal(size=(len(positions), batch, inputs)), dtype=np.float64,
               requires_grad=True)
    expected = np.zeros((seq_len, batch, dim))
    for j in range(seq_len):
        expected[j] = layer.bias.numpy()[j]  # a categorical feature's token: its bias alone
        if j in positions:
            i = positions.index(j)
            for b in range(batch):
                expected[j, b] += x.numpy()[i, b] @ layer.weight.numpy()[i]
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12, atol=1e-12)
    gradcheck(lambda x, *params: layer(x), x, *layer.parameters())


def test_periodic_embedding_formula_and_gradients():
    tg.manual_seed(2)
    layer = double(PeriodicEmbedding(3, frequencies=2, dim=4, sigma=0.5))
    x = Tensor(np.random.default_rng(3).normal(size=(3, 5)), dtype=np.float64, requires_grad=True)
    c, w, bias = layer.frequencies.numpy(), layer.linear.weight.numpy(), layer.linear.bias.numpy()
    for j in range(3):
        for b in range(5):
            v = 2 * np.pi * c[j] * x.numpy()[j, b]
            expected = np.maximum(np.r_[np.sin(v), np.cos(v)] @ w[j] + bias[j], 0.0)
            np.testing.assert_allclose(layer(x).numpy()[j, b], expected, rtol=1e-12, atol=1e-12)
    gradcheck(lambda x, *params: layer(x), x, *layer.parameters())
    with pytest.raises(ValueError, match="sigma > 0"):
        PeriodicEmbedding(3, 2, 4, 0.0)


# -- the Mixer with the options ------------------------------------------------------------------------------------
def tiny_mixer(seed=1, categories=CATEGORIES, numeric_embedding=None, **options):
    """MLPMixer1D(seq_len=10, dim=6, depth=1, patch_size=3) in float64; numeric_embedding "ple" (4 bins fitted on 50
    rows), "periodic" (2 frequencies, dim 3, sigma 0.3) or None."""
    tg.manual_seed(seed)
    if numeric_embedding == "ple":
        edges = fit_ple_edges(rows(50, seed=9)[:, NUMERIC if categories else slice(None)], 4)
        numeric_embedding = functools.partial(PiecewiseLinearEncoding, n_bins=4, edges=edges)
    elif numeric_embedding == "periodic":
        numeric_embedding = functools.partial(PeriodicEmbedding, frequencies=2, dim=3, sigma=0.3)
    return double(MLPMixer1D(seq_len=10, dim=6, depth=1, patch_size=3, categories=categories,
                             numeric_embedding=numeric_embedding, **options))


def tokens(model, x):
    """The tokens the blocks get: the embedding's, plus the category vectors."""
    h = model.embed(x)
    return h if model.category_embedding is None else h + model.category_embedding(x)


@pytest.mark.parametrize("options", [
    dict(tokens="feature"), dict(numeric_embedding="ple"), dict(numeric_embedding="periodic"),
    dict(tokens="feature", numeric_embedding="ple", ensemble_size=2), dict(ensemble_size=3, num_classes=3)])
def test_gradients_through_the_whole_model_with_each_option(options):
    model = tiny_mixer(**options).eval()
    if model.category_embedding is not None:
        model.category_embedding.weight.numpy()[:] = np.random.default_rng(2).normal(size=(12, 6))
    x = Tensor(rows(4), dtype=np.float64)
    gradcheck(lambda *params: model(x).sum(), *model.parameters())


def test_feature_tokens_are_bias_plus_value_times_weight_or_bias_plus_category_vector():
    model = tiny_mixer(tokens="feature")
    proj = model.embed.proj
    assert model.num_tokens == 10 and proj.weight.shape == (7, 1, 6) and proj.bias.shape == (10, 6)
    weight = model.category_embedding.weight.numpy()
    weight[:] = np.random.default_rng(5).normal(size=weight.shape)
    x = rows(3, seed=4)
    got = tokens(model, Tensor(x, dtype=np.float64)).numpy()
    offsets = {1: 0, 2: 4, 6: 7}
    for j in range(10):
        for b in range(3):
            if j in offsets:
                expected = proj.bias.numpy()[j] + weight[offsets[j] + int(x[b, j])]
            else:
                expected = proj.bias.numpy()[j] + x[b, j] * proj.weight.numpy()[NUMERIC.index(j), 0]
            np.testing.assert_allclose(got[j, b], expected, rtol=1e-12, atol=1e-12)


def test_embedded_features_fill_the_patches_as_channels():
    """With patches, a token is the shared Linear of its features' embeddings side by side (zeros for a categorical
    feature), plus the category vectors."""
    model = tiny_mixer(numeric_embedding="ple")
    proj = model.embed.proj
    assert model.num_tokens == 4 and proj.weight.shape == (6, 12)  # 3 features x 4 bins per patch
    x = rows(2, seed=6)
    got = tokens(model, Tensor(x, dtype=np.float64)).numpy()
    encoded = model.embed.numeric_embedding(Tensor(x[:, NUMERIC].T, dtype=np.float64)).numpy()  # (7, batch, 4)
    weight = model.category_embedding.weight.numpy()
    offsets = {1: 0, 2: 4, 6: 7}
    for t in range(4):
        for b in range(2):
            patch = np.zeros((3, 4))
            for k in range(3):
                if 3 * t + k in NUMERIC:
                    patch[k] = encoded[NUMERIC.index(3 * t + k), b]
            expected = proj.weight.numpy() @ patch.ravel() + proj.bias.numpy()
            for position, offset in offsets.items():
                if position // 3 == t:
                    expected = expected + weight[offset + int(x[b, position])]
            np.testing.assert_allclose(got[t, b], expected, rtol=1e-12, atol=1e-12)


def test_each_ensemble_member_is_the_shared_model_with_its_scaling_and_its_head():
    """Member i of TabM-mini equals a plain Mixer whose token projection is scaled by r_i and whose head is head i
    (eval mode, no categories: the tokens are proj(patches) * r_i)."""
    ensemble = tiny_mixer(categories=None, ensemble_size=3, num_classes=2).eval()
    x = rows(5, categories={})
    logits = ensemble(x).numpy()
    assert logits.shape == (5, 3, 2)
    np.testing.assert_array_equal(np.abs(ensemble.member_scales.numpy()), 1.0)  # random signs
    for i in range(3):
        single = tiny_mixer(categories=None, num_classes=2)
        state = {name: value for name, value in ensemble.state_dict().items()
                 if not name.startswith(("head", "member_scales"))}
        scale = ensemble.member_scales.numpy()[i]
        state["embed.proj.weight"] = state["embed.proj.weight"] * scale[:, None]
        state["embed.proj.bias"] = state["embed.proj.bias"] * scale
        state["head.weight"] = ensemble.head.weight.numpy()[i].T
        state["head.bias"] = ensemble.head.bias.numpy()[i]
        single.load_state_dict(state)
        np.testing.assert_allclose(single.eval()(x).numpy(), logits[:, i], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("part", ["head.weight", "head.bias", "member_scales"])
def test_changing_one_members_parameters_changes_only_its_logits(part):
    model = tiny_mixer(ensemble_size=3).eval()
    x = rows(4)
    before = model(x).numpy()
    parameter = dict(model.named_parameters())[part].numpy()
    parameter[1] += np.random.default_rng(8).normal(size=parameter[1].shape)  # not uniform: LN outputs sum to 0
    after = model(x).numpy()
    changed = np.abs(after - before).max(axis=(0, 2)) > 1e-6
    assert changed.tolist() == [False, True, False]


def test_ensemble_loss_is_the_members_mean_loss_and_probabilities_their_mean():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 6)
    logits = Tensor(rng.normal(size=(6, 3, 1)), dtype=np.float64)
    members = [loss_fn(Tensor(logits.numpy()[:, i], dtype=np.float64), labels).item() for i in range(3)]
    assert loss_fn(logits, labels).item() == pytest.approx(np.mean(members), rel=1e-12)
    assert loss_fn(logits, labels, reduction="sum").item() == pytest.approx(6 * np.mean(members), rel=1e-12)
    per_row = loss_fn(logits, labels, reduction="none").numpy()
    assert per_row.shape == (6,) and per_row.mean() == pytest.approx(np.mean(members), rel=1e-12)
    multiclass = Tensor(rng.normal(size=(6, 2, 4)), dtype=np.float64)
    classes = rng.integers(0, 4, 6)
    members = [loss_fn(Tensor(multiclass.numpy()[:, i], dtype=np.float64), classes).item() for i in range(2)]
    assert loss_fn(multiclass, classes).item() == pytest.approx(np.mean(members), rel=1e-12)

    model = tiny_mixer(ensemble_size=3, categories=None)
    x = rows(5, categories={})
    member_logits = model.eval()(x).numpy()[:, :, 0]
    np.testing.assert_allclose(predict_proba(model, x), (1 / (1 + np.exp(-member_logits))).mean(axis=1), rtol=1e-12)


def test_constructor_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="tokens must be one of"):
        MLPMixer1D(tokens="row")
    with pytest.raises(ValueError, match="need scalar features"):
        MLPMixer1D(in_channels=2, tokens="feature")
    with pytest.raises(ValueError, match="no stem"):
        MLPMixer1D(tokens="feature", stem=STEMS["inception"])
    assert MLPMixer1D(dim=8, depth=1, ensemble_size=2)(np.zeros((3, 42), np.float32)).shape == (3, 2, 1)


# -- configuration -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "message"), [
    ({"model": "convnext", "tokens": "feature"}, "--tokens does not apply to --model convnext (only to --model "
                                                 "mlp-mixer)"),
    ({"model": "hybrid", "ensemble_size": 2}, "--ensemble-size does not apply to --model hybrid"),
    ({"init_from_mae": "mae.npz", "ensemble_size": 2}, "--ensemble-size does not apply with --init-from-mae"),
    ({"init_from_mae": "mae.npz", "numeric_embedding": "ple"}, "--numeric-embedding does not apply with "
                                                               "--init-from-mae"),
    ({"latent_model": "vae.npz", "latent_noise": 0.5, "tokens": "feature"}, "--tokens does not apply with "
                                                                             "--latent-noise"),
    ({"tokens": "feature", "patch_size": 2}, "--patch-size does not apply with --tokens feature"),
    ({"tokens": "feature", "stem": "inception"}, "--stem does not apply with --tokens feature"),
    ({"ple_bins": 8}, "--ple-bins does not apply to --numeric-embedding periodic (only to --numeric-embedding ple)"),
    ({"numeric_embedding": "none", "periodic_dim": 8}, "--periodic-dim does not apply to --numeric-embedding none"),
    ({"numeric_embedding": "ple", "periodic_sigma": 0.1}, "--periodic-sigma does not apply to --numeric-embedding "
                                                          "ple (only to --numeric-embedding periodic)"),
    ({"ensemble_size": 0}, "--ensemble-size 0 must be >= 1"),
    ({"numeric_embedding": "ple", "ple_bins": 1}, "--ple-bins 1 must be >= 2"),
    ({"numeric_embedding": "periodic", "periodic_sigma": 0.0}, "--periodic-sigma 0 must be > 0"),
    ({"tokens": "cell"}, "--tokens cell: must be one of patch, feature"),
    ({"numeric_embedding": "splines"}, "--numeric-embedding splines: must be one of auto, none, ple, periodic"),
])
def test_configuration_rules_name_the_flag(values, message):
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict(values)
    assert message in str(caught.value)


def test_auto_embeds_numbers_periodically_only_where_the_plain_mixer_is_trained_from_scratch():
    assert TrainConfig.from_dict({}).model.numeric_embedding == "periodic"  # the holdout's choice (README)
    assert TrainConfig.from_dict({"tokens": "feature"}).model.numeric_embedding == "periodic"
    for values in ({"model": "convnext"}, {"model": "hybrid"}, {"init_from_mae": "mae.npz"},
                   {"latent_model": "vae.npz", "latent_noise": 0.5}):
        config = TrainConfig.from_dict(values)
        assert config.model.numeric_embedding == "none", values
        assert TrainConfig.from_dict(config.flat(), given=None) == config  # "none" may be given to any model


def test_a_configuration_saved_before_the_option_existed_means_no_embedding():
    saved = TrainConfig.from_dict({}).flat()
    del saved["numeric_embedding"], saved["periodic_dim"]
    assert TrainConfig.from_dict(TrainConfig.saved(saved), given=()).model.numeric_embedding == "none"
    saved["numeric_embedding"] = "ple"
    assert TrainConfig.from_dict(TrainConfig.saved(saved), given=()).model.numeric_embedding == "ple"
    grouped = {"model": {"numeric-embedding": "ple"}}  # config.json's form
    assert TrainConfig.from_dict(TrainConfig.saved(grouped)).model.numeric_embedding == "ple"
    assert TrainConfig.from_dict(TrainConfig.saved({"model": {"dim": 8}})).model.numeric_embedding == "none"


def test_the_options_round_trip_and_config_json_keeps_only_what_applies():
    config = TrainConfig.from_dict({"tokens": "feature", "numeric_embedding": "ple", "ple_bins": 8,
                                    "ensemble_size": 2})
    applied = config.applicable()["model"]
    assert applied["tokens"] == "feature" and applied["ple_bins"] == 8 and applied["ensemble_size"] == 2
    assert "patch_size" not in applied and "stem" not in applied and "periodic_sigma" not in applied
    assert TrainConfig.from_dict(config.applicable()) == config
    assert TrainConfig.from_dict(config.flat(), given=()) == config
    periodic = TrainConfig.from_dict({"numeric_embedding": "periodic", "periodic_sigma": 0.1}).applicable()["model"]
    assert {"periodic_frequencies", "periodic_dim", "periodic_sigma"} <= set(periodic) and "ple_bins" not in periodic
    assert TrainConfig.parse({"tokens": "feature"})[1] == []  # no patch padding note


def test_numeric_positions_leave_out_embedded_categories_only():
    assert numeric_positions(TrainConfig.from_dict({})) == [p for p in range(42)
                                                            if p not in unsw.CATEGORICAL_POSITIONS]
    assert numeric_positions(TrainConfig.from_dict({"categorical": "numeric"})) == list(range(42))


def test_make_model_without_edges_builds_an_unset_ple_that_refuses_to_run():
    model = make_model(TrainConfig.from_dict({"numeric_embedding": "ple", "dim": 8, "depth": 1}), 2,
                       {1: 5, 2: 4, 3: 3})
    assert model.embed.numeric_embedding.edges.shape == (39, 17)
    with pytest.raises(RuntimeError, match="not set"):
        model(np.zeros((2, 42), np.float32))


def test_a_flag_that_does_not_apply_is_one_error_line_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--tokens", "feature", "--patch-size", "2"]) == 1
    err = capsys.readouterr().err
    assert err == "error: invalid configuration: --patch-size does not apply with --tokens feature (one token per " \
                  "feature)\n"
    assert list(tmp_path.iterdir()) == []


# -- runs ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """600 training rows (every 30th), 200 test rows, the unlabelled rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(600, 30), test=(200, 20), unlabelled_rows=25)


def config(folder, out, **overrides):
    values = dict(dim=8, depth=1, epochs=1, batch_size=64, lr=3e-3, warmup_epochs=0.5, holdout=0.2,
                  data_dir=str(folder), out=str(out), seed=4, drop_path=0.1)
    return TrainConfig.from_dict({**values, **overrides})


def quiet(config):
    return Trainer(config, log=lambda text: None)


@needs_data
def test_ple_edges_are_fitted_on_the_training_rows_only(small_data, tmp_path):
    trainer = quiet(config(small_data, tmp_path / "run", numeric_embedding="ple", ple_bins=8))
    data = trainer.data
    assert len(data.train.labels) + len(data.holdout.labels) == 600
    columns = [p for p in range(42) if p not in unsw.CATEGORICAL_POSITIONS]
    edges = trainer.model.embed.numeric_embedding.edges.numpy()
    np.testing.assert_array_equal(edges, fit_ple_edges(data.train.features[:, columns], 8))
    with_holdout = np.concatenate([data.train.features, data.holdout.features])[:, columns]
    assert not np.array_equal(edges, fit_ple_edges(with_holdout, 8))
    assert not np.array_equal(edges, fit_ple_edges(data.test.features[:, columns], 8))


@needs_data
@pytest.mark.parametrize("options", [
    {"tokens": "feature"}, {"numeric_embedding": "ple", "ple_bins": 8},
    {"numeric_embedding": "periodic", "periodic_frequencies": 4, "periodic_dim": 4},
    {"ensemble_size": 3},
    {"tokens": "feature", "numeric_embedding": "ple", "ensemble_size": 2, "categorical": "numeric"},
])
@pytest.mark.slow
def test_one_epoch_with_each_option_then_load_evaluate_and_predict(small_data, tmp_path, capsys, options):
    out = tmp_path / "run"
    trainer = quiet(config(small_data, out, **options))
    result = trainer.fit()
    assert 0 <= result["test"]["accuracy"] <= 1 and np.isfinite(result["test"]["loss"])
    saved = json.loads((out / "config.json").read_text())
    assert all(saved["model"][key] == value for key, value in options.items() if key != "categorical")
    model, checkpoint = load_trained(out / "last.npz")
    features = trainer.data.test.features
    np.testing.assert_array_equal(predict_proba(model, features), predict_proba(trainer.model, features))
    assert predict_proba(model, features).shape == (len(features),)
    assert main(["evaluate", "--checkpoint", str(out / "best.npz"), "--data-dir", str(small_data)]) == 0
    assert "test (" in capsys.readouterr().out
    output = tmp_path / "predictions.csv"
    assert main(["predict", "--checkpoint", str(out / "best.npz"), "--csv", str(small_data / REAL["unlabelled"].name),
                 "--output", str(output)]) == 0
    assert len(output.read_text().splitlines()) == 26


@needs_data
@pytest.mark.slow
def test_resume_continues_a_tabular_ensemble_bit_for_bit(small_data, tmp_path):
    options = dict(epochs=2, tokens="feature", numeric_embedding="ple", ple_bins=8, ensemble_size=2)
    quiet(config(small_data, tmp_path / "full", **options)).fit()
    cut = quiet(config(small_data, tmp_path / "cut", **options))
    ctrl_c_in_epoch(cut, 2)
    with pytest.raises(Interrupted):
        cut.fit()
    assert main(["train", "--resume", str(tmp_path / "cut" / "last.npz"), "--out", str(tmp_path / "resumed")]) == 0
    full, resumed = load_checkpoint(tmp_path / "full" / "last.npz"), load_checkpoint(tmp_path / "resumed" / "last.npz")
    assert "embed.numeric_embedding.edges" in full["model"] and full["epoch"] == resumed["epoch"] == 2
    for name, array in full["model"].items():
        np.testing.assert_array_equal(resumed["model"][name], array, err_msg=name)
