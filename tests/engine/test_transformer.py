"""Attention and the Transformer layers against PyTorch from the same state_dict -- outputs and every input and
parameter gradient, float64 (1e-10) and float32 (1e-5) -- with PyTorch's masks (bool and float, key padding, causal,
3-D per head), layouts (batch_first, unbatched) and options (kdim/vdim, bias_k/v, zero attention, norm_first, gelu);
scaled_dot_product_attention's gradient in the property tests; its safe softmax and dropout; names, initialisation,
copies; gradcheck; errors."""

import math

import numpy as np
import pytest
from hypothesis import strategies as st
from torch_parity import check_against_torch, check_function_against_torch

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, gradcheck, nn
from tinygrad_np.testing import check_op

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
E, HEADS, L, S, N = 8, 2, 5, 4, 3
DTYPES = [np.float64, np.float32]
rng = np.random.default_rng(0)
QUERY, KEY, VALUE = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E)), rng.standard_normal((S, N, E))
PADDING = np.array([[0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=bool)  # (N, S): True = a padded key
BLOCKED = rng.random((L, S)) < 0.3  # (L, S): True = may not attend
BLOCKED[:, 0] = False
SELF_BLOCKED = rng.random((L, L)) < 0.4  # (L, L) for self-attention; the diagonal stays open
np.fill_diagonal(SELF_BLOCKED, False)


# -- scaled_dot_product_attention ------------------------------------------------------------------------------
SDPA_CASES = {
    "plain": ({}, []),
    "bool mask": ({}, [rng.random((L, S)) < 0.6]),
    "float mask per batch": ({}, [rng.standard_normal((2, 1, L, S))]),
    "causal": ({"is_causal": True}, []),
    "scale": ({"scale": 0.3}, []),
    "a query sees nothing": ({}, [np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]],
                                           dtype=bool)]),
    "grouped query heads": ({"enable_gqa": True}, []),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_scaled_dot_product_attention_matches_pytorch(torch, case, dtype):
    options, mask = SDPA_CASES[case]
    heads_kv = 2 if options.get("enable_gqa") else 4
    q, k, v = rng.standard_normal((2, 4, L, 3)), rng.standard_normal((2, heads_kv, S, 3)), \
        rng.standard_normal((2, heads_kv, S, 6))

    def fn(engine, q, k, v, *mask):
        return engine.nn.functional.scaled_dot_product_attention(q, k, v, *mask, **options)

    check_function_against_torch(torch, fn, [q, k, v, *mask], dtype)


@st.composite
def attention_shapes(draw, with_mask=False):
    lead = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    length, source, size, value_size = (draw(st.integers(1, 4)) for _ in range(4))
    shapes = (lead + (length, size), lead + (source, size), lead + (source, value_size))
    return shapes + ((length, source),) if with_mask else shapes


def test_scaled_dot_product_attention_gradient():
    check_op(lambda q, k, v, causal=False, scale=None: F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                                                       scale=scale),
             3, shapes=attention_shapes(),
             kwargs=st.fixed_dictionaries({"causal": st.booleans(), "scale": st.sampled_from([None, 0.7])}),
             max_examples=15)


def test_scaled_dot_product_attention_gradient_of_an_additive_mask():
    """A float mask that requires grad (a learned attention bias) gets its gradient."""
    check_op(lambda q, k, v, bias: F.scaled_dot_product_attention(q, k, v, attn_mask=bias), 4,
             shapes=attention_shapes(with_mask=True), max_examples=10)


def test_a_query_that_may_attend_to_nothing_gets_zeros_and_zero_gradient():
    q = Tensor(rng.standard_normal((3, 2)), dtype=np.float64, requires_grad=True)
    k = Tensor(rng.standard_normal((4, 2)), dtype=np.float64, requires_grad=True)
    v = Tensor(rng.standard_normal((4, 2)), dtype=np.float64, requires_grad=True)
    allowed = np.ones((3, 4), dtype=bool)
    allowed[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    np.testing.assert_array_equal(out.numpy()[1], 0)
    out.sum().backward()
    assert np.isfinite(np.asarray(q.grad)).all() and np.isfinite(np.asarray(k.grad)).all()
    np.testing.assert_array_equal(np.asarray(q.grad)[1], 0)
    floats = np.where(allowed, 0.0, -np.inf)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, attn_mask=floats).numpy(), out.numpy())


def test_dropout_drops_attention_weights_and_rescales_the_rest():
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    tg.manual_seed(7)
    out = F.scaled_dot_product_attention(*(Tensor(a, dtype=np.float64) for a in (q, k, v)), dropout_p=0.4)
    tg.manual_seed(7)
    keep = tg.default_generator().random((2, 3, 5), dtype=np.float64) >= 0.4
    scores = q @ k.transpose(0, 2, 1) / 2.0
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(out.numpy(), (weights * keep / 0.6) @ v, rtol=1e-12)


# -- MultiheadAttention ---------------------------------------------------------------------------------------------
def as_mask(engine, array, like):
    """A mask tensor of the engine: bool as it is, float in the dtype of `like` (PyTorch wants them alike)."""
    mask = engine.tensor(array)
    return mask if array.dtype == bool else mask.to(like.dtype)


def attention_call(query="q", key="k", value="v", **options):
    """A call of an MHA module on the arrays QUERY, KEY, VALUE ("q", "k", "v"); masks given as arrays become tensors
    of the engine; both outputs are compared."""
    def call(module, engine, q, k, v):
        named = {"q": q, "k": k, "v": v}
        masks = {name: as_mask(engine, value, q) if isinstance(value, np.ndarray) else value
                 for name, value in options.items()}
        return module(named[query], named[key], named[value], **masks)
    return call


MHA_CASES = {
    "self attention, weights averaged": ({}, attention_call("q", "q", "q", attn_mask=SELF_BLOCKED)),
    "weights per head": ({}, attention_call(average_attn_weights=False, key_padding_mask=PADDING)),
    "key is value": ({}, attention_call("q", "k", "k", attn_mask=np.where(BLOCKED, -np.inf, 0.5))),
    "kdim and vdim": ({"kdim": 5, "vdim": 7}, attention_call(key_padding_mask=PADDING)),
    "bias_k, bias_v, zero attention": ({"add_bias_kv": True, "add_zero_attn": True},
                                       attention_call(key_padding_mask=PADDING, attn_mask=BLOCKED)),
    "no bias, 3-D mask, no weights": ({"bias": False},
                                      attention_call(attn_mask=rng.standard_normal((N * HEADS, L, S)),
                                                     need_weights=False)),
    "padding and mask, no weights": ({}, attention_call(attn_mask=BLOCKED, key_padding_mask=PADDING,
                                                        need_weights=False)),
    "causal hint": ({}, attention_call("q", "q", "q", attn_mask=np.triu(np.full((L, L), -np.inf), 1), is_causal=True,
                                       need_weights=False)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_pytorch(torch, case, dtype):
    options, call = MHA_CASES[case]
    key = rng.standard_normal((S, N, options.get("kdim", E)))
    value = rng.standard_normal((S, N, options.get("vdim", E)))
    check_against_torch(torch, lambda engine: engine.nn.MultiheadAttention(E, HEADS, **options), [QUERY, key, value],
                        call, dtype)


@pytest.mark.parametrize("batched", [True, False])
def test_multihead_attention_batch_first_and_unbatched(torch, batched):
    q, k = (QUERY.transpose(1, 0, 2), KEY.transpose(1, 0, 2)) if batched else (QUERY[:, 0], KEY[:, 0])
    mask = PADDING if batched else PADDING[0]
    check_against_torch(torch, lambda engine: engine.nn.MultiheadAttention(E, HEADS, batch_first=True),
                        [q, k, k], attention_call("q", "k", "k", key_padding_mask=mask), np.float64)


def test_multihead_attention_names_and_initialisation(torch):
    for options in ({}, {"kdim": 3, "vdim": 5, "add_bias_kv": True}, {"bias": False}):
        theirs, ours = torch.nn.MultiheadAttention(E, HEADS, **options), nn.MultiheadAttention(E, HEADS, **options)
        assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == \
            [(k, v.shape) for k, v in ours.state_dict().items()]
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(64, 4)
    bound = math.sqrt(6 / (64 + 3 * 64))  # Xavier-uniform over the packed (3E, E) weight
    w = mha.in_proj_weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not mha.in_proj_bias.numpy().any() and not mha.out_proj.bias.numpy().any()


def test_gradcheck_of_multihead_attention():
    tg.manual_seed(2)
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    q = Tensor(rng.standard_normal((3, 2, 4)), dtype=np.float64, requires_grad=True)
    k = Tensor(rng.standard_normal((2, 2, 4)), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda q, k, *params: mha(q, k, k, key_padding_mask=np.array([[0, 1], [0, 0]], bool))[0],
                     q, k, *mha.parameters())


# -- the Transformer layers ----------------------------------------------------------------------------------------
def layer_call(module, engine, src, *memory, **masks):
    masks = {name: as_mask(engine, value, src) for name, value in masks.items()}
    return module(src, *memory, **masks)


CAUSAL = np.triu(np.full((L, L), -np.inf), 1)
LAYER_CASES = {
    "encoder layer": (lambda engine: engine.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0), [QUERY],
                      {"src_mask": CAUSAL}),
    "encoder layer, norm first, gelu, batch first": (
        lambda engine: engine.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, activation="gelu",
                                                         norm_first=True, batch_first=True),
        [QUERY.transpose(1, 0, 2)], {"src_key_padding_mask": np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0],
                                                                       [0, 1, 1, 1, 1]], bool)}),
    "encoder with norm, causal detected": (
        lambda engine: engine.nn.TransformerEncoder(engine.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0), 2,
                                                    engine.nn.LayerNorm(E), enable_nested_tensor=False),
        [QUERY], {"mask": CAUSAL}),
    "decoder layer": (lambda engine: engine.nn.TransformerDecoderLayer(E, HEADS, 16, dropout=0.0), [QUERY, KEY],
                      {"tgt_mask": CAUSAL, "memory_key_padding_mask": PADDING}),
    "decoder, norm first, no bias": (
        lambda engine: engine.nn.TransformerDecoder(engine.nn.TransformerDecoderLayer(
            E, HEADS, 16, dropout=0.0, norm_first=True, bias=False), 2), [QUERY, KEY], {"tgt_mask": CAUSAL}),
    "transformer": (lambda engine: engine.nn.Transformer(E, HEADS, 2, 1, 16, dropout=0.0), [KEY, QUERY],
                    {"tgt_mask": CAUSAL, "src_key_padding_mask": PADDING, "memory_key_padding_mask": PADDING}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_transformer_layers_match_pytorch(torch, case, dtype):
    make, arrays, masks = LAYER_CASES[case]
    check_against_torch(torch, make, arrays, lambda module, engine, *inputs: layer_call(module, engine, *inputs,
                                                                                         **masks), dtype)


def test_transformer_names_initialisation_and_mask(torch):
    theirs, ours = torch.nn.Transformer(E, HEADS, 2, 2, 16), nn.Transformer(E, HEADS, 2, 2, 16)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == \
        [(k, v.shape) for k, v in ours.state_dict().items()]
    weight = ours.encoder.layers[1].linear1.weight.numpy()
    assert np.abs(weight).max() <= math.sqrt(6 / (E + 16))  # Xavier-uniform, not the Linear default
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_stacked_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(E, HEADS, 16)
    encoder = nn.TransformerEncoder(layer, 3)
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    with tg.no_grad():
        first.fill_(1.0)
    assert not np.array_equal(first.numpy(), second.numpy())
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))


def test_a_subclass_of_transformer_replacing_its_decoder_as_pytorch_examples_do():
    """The word-language-model example subclasses nn.Transformer and sets self.decoder to a Linear."""
    class TransformerModel(nn.Transformer):
        def __init__(self):
            super().__init__(d_model=E, nhead=HEADS, dim_feedforward=16, num_encoder_layers=1)
            self.decoder = nn.Linear(E, 11)

        def forward(self, src):
            return self.decoder(self.encoder(src, mask=self.generate_square_subsequent_mask(len(src))))

    model = TransformerModel()
    assert model(Tensor(QUERY)).shape == (L, N, 11)
    assert "decoder.weight" in model.state_dict() and not any(k.startswith("decoder.layers") for k in
                                                              model.state_dict())


def test_gradcheck_of_an_encoder_layer():
    tg.manual_seed(3)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=True).double()
    x = Tensor(rng.standard_normal((3, 2, 4)), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda x, *params: layer(x, src_mask=Tensor(np.triu(np.full((3, 3), -np.inf), 1))), x,
                     *layer.parameters(), mode="projection")


def test_gradcheck_of_a_decoder_layer():
    tg.manual_seed(4)
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu").double()
    tgt = Tensor(rng.standard_normal((3, 2, 4)), dtype=np.float64, requires_grad=True)
    memory = Tensor(rng.standard_normal((2, 2, 4)), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda t, m, *params: layer(t, m, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3)),
                     tgt, memory, *layer.parameters(), mode="projection")


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    q = Tensor(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), bool), is_causal=True)
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(Tensor(np.zeros((4, 2, 3))), Tensor(np.zeros((2, 2, 3))),
                                       Tensor(np.zeros((2, 2, 3))))
    mha = nn.MultiheadAttention(E, HEADS)
    x = Tensor(QUERY)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"should be \(5, 5\)"):
        mha(x, x, x, attn_mask=np.zeros((4, 4), bool))
    with pytest.raises(TypeError, match="bool and floating-point masks"):
        mha(x, x, x, attn_mask=np.zeros((5, 5), int))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(E, HEADS, activation="tanh")
