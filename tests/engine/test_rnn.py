"""The recurrent layers and cells against PyTorch, from the same state_dict: outputs, final states and the gradient
of every input and parameter, in float64 (1e-10) and float32 (1e-5); their names, shapes, order and initialisation;
the fused per-layer ops against their step-by-step composition from engine ops; gradcheck of each layer; the tape's
length; dropout between layers; errors."""

import numpy as np
import pytest
from torch_parity import check_against_torch, flatten, weights_for

import tinygrad_np as tg
from tinygrad_np import Tensor, gradcheck, nn
from tinygrad_np.ops import rnn as rnn_ops

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
STEPS, BATCH, FEATURES, HIDDEN = 4, 3, 5, 6


LAYERS = [("RNN", {"num_layers": 2, "nonlinearity": "relu"}), ("RNN", {"bidirectional": True, "bias": False}),
          ("GRU", {"num_layers": 2, "bidirectional": True}), ("GRU", {"batch_first": True}),
          ("LSTM", {"num_layers": 2, "bidirectional": True}),
          ("LSTM", {"proj_size": 3, "num_layers": 2, "batch_first": True}),
          ("LSTM", {"bias": False, "proj_size": 2, "bidirectional": True})]


def layer_inputs(kind, options, rng):
    directions = 2 if options.get("bidirectional") else 1
    states = options.get("num_layers", 1) * directions
    shape = (BATCH, STEPS, FEATURES) if options.get("batch_first") else (STEPS, BATCH, FEATURES)
    arrays = [rng.standard_normal(shape), rng.standard_normal((states, BATCH, options.get("proj_size") or HIDDEN))]
    if kind == "LSTM":
        arrays.append(rng.standard_normal((states, BATCH, HIDDEN)))
    return arrays


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind,options", LAYERS, ids=[f"{k}-{'-'.join(o)}" for k, o in LAYERS])
def test_layers_match_pytorch(torch, kind, options, dtype):
    arrays = layer_inputs(kind, options, np.random.default_rng(0))

    def call(module, engine, x, h0, *c0):
        return module(x, (h0, *c0) if c0 else h0)

    check_against_torch(torch, lambda engine: getattr(engine.nn, kind)(FEATURES, HIDDEN, **options), arrays, call,
                        dtype)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_unbatched_input_and_zero_initial_state_match_pytorch(torch, kind):
    x = np.random.default_rng(1).standard_normal((STEPS, FEATURES))
    check_against_torch(torch, lambda engine: getattr(engine.nn, kind)(FEATURES, HIDDEN, num_layers=2,
                                                                        bidirectional=True),
                        [x], lambda module, engine, x: module(x), np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind,options", [("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}),
                                          ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", {"bias": False})])
def test_cells_match_pytorch(torch, kind, options, dtype):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((BATCH, FEATURES)), rng.standard_normal((BATCH, HIDDEN))]
    if kind == "LSTMCell":
        arrays.append(rng.standard_normal((BATCH, HIDDEN)))

    def call(cell, engine, x, h, *c):
        state = (h, *c) if c else h
        two_steps = cell(x, state)
        return two_steps, cell(x * 0.5, two_steps), cell(x[0])  # a state carried on; an unbatched, zero state

    check_against_torch(torch, lambda engine: getattr(engine.nn, kind)(FEATURES, HIDDEN, **options), arrays, call,
                        dtype)


@pytest.mark.parametrize("kind,options", [("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
                                          ("GRU", {"num_layers": 3, "bias": False}), ("RNN", {"bidirectional": True}),
                                          ("LSTMCell", {}), ("GRUCell", {"bias": False})])
def test_state_dict_names_shapes_order_and_repr_are_pytorchs(torch, kind, options):
    theirs, ours = getattr(torch.nn, kind)(4, 5, **options), getattr(nn, kind)(4, 5, **options)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == \
        [(k, v.shape) for k, v in ours.state_dict().items()]
    assert [name for name, _ in theirs.named_parameters()] == [name for name, _ in ours.named_parameters()]
    assert repr(ours) == repr(theirs)


def test_initialisation_is_uniform_within_one_over_sqrt_hidden():
    tg.manual_seed(0)
    lstm = nn.LSTM(30, 40, num_layers=2, proj_size=20)
    values = np.concatenate([p.numpy().ravel() for p in lstm.parameters()])
    bound = 1 / np.sqrt(40)
    assert np.abs(values).max() <= bound
    assert abs(values.std() - bound / np.sqrt(3)) < 0.02 * bound  # uniform(-b, b) has std b / sqrt(3)
    tg.manual_seed(0)
    again = nn.LSTM(30, 40, num_layers=2, proj_size=20)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(lstm.parameters(), again.parameters(), strict=True))


def random_op_inputs(op, rng, reverse, bias, proj=False):
    """float64 inputs of one fused op: gates_x (T, N, gates * H), h0, [c0], w_hh, [b_hh], [w_hr]."""
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[op]
    width = 2 if proj else HIDDEN
    shapes = [(STEPS, BATCH, gates * HIDDEN), (BATCH, width)] + ([(BATCH, HIDDEN)] if op == "lstm" else [])
    shapes += [(gates * HIDDEN, width)] + ([(gates * HIDDEN,)] if bias else []) + ([(width, HIDDEN)] if proj else [])
    return [Tensor(rng.standard_normal(s) * 0.7, dtype=np.float64, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op,bias,proj", [("rnn", True, False), ("rnn", False, False), ("gru", True, False),
                                          ("gru", False, False), ("lstm", True, False), ("lstm", False, True),
                                          ("lstm", True, True)])
def test_fused_ops_agree_with_their_step_by_step_composition(op, bias, proj, reverse):
    rng = np.random.default_rng(3)
    inputs = random_op_inputs(op, rng, reverse, bias, proj)
    composed_inputs = [Tensor(t.numpy().copy(), dtype=np.float64, requires_grad=True) for t in inputs]
    if op == "lstm":
        fused = rnn_ops.LSTMLayer.apply(*inputs, reverse=reverse, has_bias=bias, has_proj=proj)
        x, h0, c0, w, *rest = composed_inputs
        y, c = rnn_ops.LSTMLayer.composed(x, h0, c0, w, rest[0] if bias else None, rest[-1] if proj else None,
                                          reverse=reverse)
        composed = tg.cat([y.reshape(-1), c.reshape(-1)])
    elif op == "gru":
        fused = rnn_ops.GRULayer.apply(*inputs, reverse=reverse)
        composed = rnn_ops.GRULayer.composed(*composed_inputs, reverse=reverse)
    else:
        fused = rnn_ops.RNNLayer.apply(*inputs, reverse=reverse, relu=True)
        composed = rnn_ops.RNNLayer.composed(*composed_inputs, reverse=reverse, relu=True)
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-12, atol=1e-13)
    upstream = weights_for(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    for a, b in zip(inputs, composed_inputs, strict=True):
        np.testing.assert_allclose(np.asarray(a.grad), np.asarray(b.grad), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("kind,options", [("RNN", {"bidirectional": True}), ("GRU", {"num_layers": 2}),
                                          ("LSTM", {"proj_size": 2, "bidirectional": True})])
def test_gradcheck_of_each_layer(kind, options):
    tg.manual_seed(1)
    layer = getattr(nn, kind)(2, 3, **options).double()
    x = Tensor(np.random.default_rng(4).standard_normal((3, 2, 2)), dtype=np.float64, requires_grad=True)

    def run(x, *params):
        out = layer(x)
        return flatten(out)[0] + flatten(out)[1].sum() if kind != "LSTM" else out[0] + out[1][1].sum()

    assert gradcheck(run, x, *layer.parameters())


@pytest.mark.parametrize("kind,options", [("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {})])
def test_gradcheck_of_each_cell(kind, options):
    tg.manual_seed(2)
    cell = getattr(nn, kind)(2, 3, **options).double()
    x = Tensor(np.random.default_rng(7).standard_normal((2, 2)), dtype=np.float64, requires_grad=True)

    def two_steps(x, *params):
        state = cell(x)
        state = cell(x * 0.5, state)
        return state[0] + state[1] if kind == "LSTMCell" else state

    assert gradcheck(two_steps, x, *cell.parameters())


def test_the_pytorch_module_paths_hold_the_same_classes():
    import tinygrad_np.nn.modules.activation
    import tinygrad_np.nn.modules.rnn
    import tinygrad_np.nn.modules.transformer

    assert tinygrad_np.nn.modules.rnn.LSTM is nn.LSTM and tinygrad_np.nn.modules.rnn.GRUCell is nn.GRUCell
    assert tinygrad_np.nn.modules.transformer.Transformer is nn.Transformer
    assert tinygrad_np.nn.modules.activation.MultiheadAttention is nn.MultiheadAttention
    assert tg.nn.modules.loss.HuberLoss is nn.HuberLoss and tg.nn.modules.Module is nn.Module


def test_the_tape_holds_one_op_per_layer_and_direction_whatever_the_length():
    lstm = nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    tapes = {}
    for steps in (3, 30):
        x = Tensor(np.random.default_rng(5).standard_normal((steps, BATCH, FEATURES)), requires_grad=True)
        output, (h_n, c_n) = lstm(x)
        tapes[steps] = (output.sum() + h_n.sum() + c_n.sum()).explain().splitlines()
    assert len(tapes[3]) == len(tapes[30]) < 60
    assert sum("LSTMLayer" in line for line in tapes[30]) == 4


def test_dropout_is_applied_between_layers_only_while_training():
    tg.manual_seed(0)
    lstm = nn.LSTM(FEATURES, HIDDEN, num_layers=2, dropout=1.0)
    x = Tensor(np.random.default_rng(6).standard_normal((STEPS, BATCH, FEATURES)))
    second = nn.LSTM(HIDDEN, HIDDEN)  # the second layer alone, fed what dropout 1.0 leaves of the first: zeros
    second.load_state_dict({name[:-1] + "0": value for name, value in lstm.state_dict().items() if name.endswith("1")})
    expected, _ = second(Tensor(np.zeros((STEPS, BATCH, HIDDEN))))
    output, _ = lstm(x)
    np.testing.assert_allclose(output.numpy(), expected.numpy(), rtol=1e-6)
    lstm.eval()
    assert not np.allclose(lstm(x)[0].numpy(), expected.numpy())
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(2, 3, dropout=0.2)


def test_flatten_parameters_and_all_weights():
    lstm = nn.LSTM(4, 5, num_layers=2, bidirectional=True)
    before = [p.numpy().copy() for p in lstm.parameters()]
    assert lstm.flatten_parameters() is None
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, lstm.parameters(), strict=True))
    assert [[tuple(p.shape) for p in layer] for layer in lstm.all_weights][1] == [(20, 4), (20, 5), (20,), (20,)]


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="proj_size"):
        nn.GRU(2, 3, proj_size=1)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNNBase("GRU", 2, 3, proj_size=1)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    lstm = nn.LSTM(2, 3)
    with pytest.raises(RuntimeError, match="Expected 2, got 4"):
        lstm(Tensor(np.zeros((5, 1, 4))))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 1, 3\), got \[1, 2, 3\]"):
        lstm(Tensor(np.zeros((5, 1, 2))), (Tensor(np.zeros((1, 2, 3))), Tensor(np.zeros((1, 1, 3)))))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        lstm(Tensor(np.zeros((5, 1, 2)), dtype=np.float64))
    with pytest.raises(TypeError, match="packed sequences are not supported"):
        lstm([[0.0, 1.0]])
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        lstm(Tensor(np.zeros((5, 1, 2))), Tensor(np.zeros((1, 1, 3))))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        nn.GRU(2, 3)(Tensor(np.zeros((5, 1, 1, 2))))
