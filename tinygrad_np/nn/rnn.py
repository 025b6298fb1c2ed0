"""Recurrent layers with PyTorch's constructor arguments, parameter names and shapes, gate order and initialisation,
so that a PyTorch state_dict loads strictly: `RNN` (tanh or relu), `LSTM` (with `proj_size`), `GRU`, and the
one-step cells `RNNCell`, `LSTMCell`, `GRUCell`.

A layer computes the input projections of every time step with one `F.linear` over the whole sequence, then runs
the recurrence as one op per layer and direction (`tinygrad_np/ops/rnn.py`: the loop over time inside its forward,
backpropagation through time inside its backward). The cells are composed from engine ops, one step each: a Python
loop over a cell unrolls the recurrence on the tape, step by step.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..engine import Tensor
from ..ops import rnn as rnn_ops
from . import functional as F
from . import init
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_NAMES = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


def _zeros(shape: tuple[int, ...], dtype: np.dtype) -> Tensor:
    return Tensor._wrap(np.zeros(shape, dtype=dtype))


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`,
    `bias_hh_l{k}` (and `weight_hr_l{k}` with `proj_size`), with the suffix `_reverse` for the second direction,
    registered in PyTorch's order and all drawn from uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Input (time, batch, features), or (batch, time, features) with `batch_first`, or unbatched (time, features);
    the states are (num_layers * num_directions, batch, hidden) whatever `batch_first` says. `dropout` is applied to
    the output of every layer but the last, while training. Packed sequences are not supported (docs/pytorch.md)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 *, dtype: Any = np.float32, generator: np.random.Generator | None = None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             f"being zeroed, got {dropout!r}")
        for name, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                            ("proj_size", proj_size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"input_size, hidden_size and num_layers must be greater than zero, got {input_size}, "
                             f"{hidden_size}, {num_layers}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got {proj_size} and {hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers=1",
                          stacklevel=3)
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        state_size = proj_size or hidden_size
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else state_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, state_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name + suffix, Parameter(np.zeros(shape), dtype=dtype))
                self._all_weights.append([name + suffix for name in shapes])
        self._flat_weights_names = [name for names in self._all_weights for name in names]
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Every parameter from uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in registration order."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator)

    def flatten_parameters(self) -> None:
        """Nothing to do: PyTorch packs the weights into one buffer for cuDNN; here they stay as they are."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _state_shape(self, batch: int, cell: bool = False) -> tuple[int, int, int]:
        directions = 2 if self.bidirectional else 1
        size = self.hidden_size if cell or not self.proj_size else self.proj_size
        return (self.num_layers * directions, batch, size)

    def _prepare(self, input: Any, states: tuple[Any, ...]) -> tuple[Tensor, list[Tensor | None], bool]:  # noqa: A002
        """The input as (time, batch, features) and the given states as 3-D tensors, checked; whether it was
        batched."""
        name = _NAMES[self.mode]
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: the input must be a Tensor, got {type(input).__name__} (packed sequences are not "
                            "supported: pad the batch and pass the padded tensor)")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead")
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise ValueError(f"{name} input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{input.shape[-1]}")
        batched = input.ndim == 3
        x = input if not batched or not self.batch_first else input.transpose(0, 1)
        if not batched:
            x = x.unsqueeze(1)
        given: list[Tensor | None] = []
        for k, state in enumerate(states):
            if state is None:
                given.append(None)
                continue
            if not isinstance(state, Tensor):
                raise TypeError(f"{name}: the initial states must be Tensors, got {type(state).__name__}")
            if state.ndim != (3 if batched else 2):
                raise RuntimeError(f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, hx should also be "
                                   f"{3 if batched else 2}-D but got {state.ndim}-D tensor")
            state = state if batched else state.unsqueeze(1)
            expected = self._state_shape(x.shape[1], cell=k == 1)
            if state.shape != expected:
                raise RuntimeError(f"Expected {'cell' if k == 1 else 'hidden'} size {expected}, got "
                                   f"{list(state.shape)}")
            if state.dtype != weight.dtype:
                raise ValueError(f"{name}: initial state dtype ({state.dtype}) does not match weight dtype "
                                 f"({weight.dtype})")
            given.append(state)
        return x, given, batched

    def _run(self, x: Tensor, h0: Tensor | None, c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """(output (time, batch, directions * size), h_n, c_n or None) of the stacked layers."""
        steps, batch = x.shape[:2]
        directions = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h_last: list[Tensor] = []
        c_last: list[Tensor] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                names = self._all_weights[k]
                params = {name.split("_l")[0]: getattr(self, name) for name in names}
                gates_x = F.linear(layer_input, params["weight_ih"], params.get("bias_ih"))
                state_shape = self._state_shape(batch)[1:]
                h = h0[k] if h0 is not None else _zeros(state_shape, x.dtype)
                recurrent = [params["weight_hh"], *([params["bias_hh"]] if self.bias else [])]
                reverse = direction == 1
                if lstm:
                    c = c0[k] if c0 is not None else _zeros((batch, self.hidden_size), x.dtype)
                    packed = rnn_ops.LSTMLayer.apply(gates_x, h, c, *recurrent,
                                                     *([params["weight_hr"]] if self.proj_size else []),
                                                     reverse=reverse, has_bias=self.bias,
                                                     has_proj=bool(self.proj_size))
                    split = steps * batch * state_shape[1]
                    y = packed[:split].reshape(steps, batch, state_shape[1])
                    c_last.append(packed[split:].reshape(batch, self.hidden_size))
                elif self.mode == "GRU":
                    y = rnn_ops.GRULayer.apply(gates_x, h, *recurrent, reverse=reverse)
                else:
                    y = rnn_ops.RNNLayer.apply(gates_x, h, *recurrent, reverse=reverse, relu=self.mode == "RNN_RELU")
                outputs.append(y)
                h_last.append(y[0] if reverse else y[steps - 1])
            layer_input = outputs[0] if directions == 1 else F.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, F.stack(h_last), F.stack(c_last) if lstm else None

    def _output(self, output: Tensor, batched: bool) -> Tensor:
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """(output, h_n): every step's output of the last layer (both directions side by side), and the last
        hidden state of every layer and direction."""
        x, (h0,), batched = self._prepare(input, (hx,))
        output, h_n, _ = self._run(x, h0, None)
        return self._output(output, batched), h_n if batched else h_n.squeeze(1)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), layer after layer. The
    nonlinearity is PyTorch's fourth positional argument, as in `nn.RNN(10, 20, 2, "relu")`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, dtype: Any = np.float32, generator: np.random.Generator | None = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype=dtype, generator=generator)


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order (input, forget, cell, output) and optional projection of the hidden state
    (`proj_size`, Sak et al. 2014). Returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 *, dtype: Any = np.float32, generator: np.random.Generator | None = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype=dtype, generator=generator)

    def forward(self, input: Tensor,  # noqa: A002
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(output, (h_n, c_n)); `hx` is (h_0, c_0), both or neither."""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
        x, (h0, c0), batched = self._prepare(input, tuple(hx) if hx is not None else (None, None))
        output, h_n, c_n = self._run(x, h0, c0)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._output(output, batched), (h_n, c_n)


class GRU(RNNBase):
    """GRU with PyTorch's gate order (reset, update, new) and its form of the new gate,
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, dtype: Any = np.float32, generator: np.random.Generator | None = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, generator=generator)


class RNNCellBase(Module):
    """One step of a recurrent layer: `weight_ih` (chunks * hidden, input), `weight_hh` (chunks * hidden, hidden),
    `bias_ih` and `bias_hh`, from uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Input (batch, features) or
    unbatched (features,); the state defaults to zeros."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(np.zeros((num_chunks * hidden_size, input_size)), dtype=dtype)
        self.weight_hh = Parameter(np.zeros((num_chunks * hidden_size, hidden_size)), dtype=dtype)
        self.bias_ih = Parameter(np.zeros(num_chunks * hidden_size), dtype=dtype) if bias else None
        self.bias_hh = Parameter(np.zeros(num_chunks * hidden_size), dtype=dtype) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator)

    def _batched(self, input: Tensor, states: tuple[Tensor | None, ...]) -> tuple[Tensor, list[Tensor], bool]:  # noqa: A002
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            shape = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {shape} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has {input.shape[-1]} features, expected input_size {self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        out = []
        for k, state in enumerate(states):
            if state is None:
                out.append(_zeros((x.shape[0], self.hidden_size), input.dtype))
                continue
            if not isinstance(state, Tensor) or state.ndim not in (1, 2):
                raise ValueError(f"{name}: Expected hx[{k}] to be 1D or 2D, got "
                                 f"{state.ndim if isinstance(state, Tensor) else type(state).__name__}D instead")
            state = state if batched else state.unsqueeze(0)
            if state.shape != (x.shape[0], self.hidden_size):
                raise RuntimeError(f"{name}: hidden state of shape {state.shape}, expected "
                                   f"{(x.shape[0], self.hidden_size)}")
            out.append(state)
        return x, out, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


def _unbatch(h: Tensor, batched: bool) -> Tensor:
    return h if batched else h.squeeze(0)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", *,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype, generator=generator)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, (h,), batched = self._batched(input, (hx,))
        pre = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        return _unbatch(pre.relu() if self.nonlinearity == "relu" else pre.tanh(), batched)


class LSTMCell(RNNCellBase):
    """i, f, g, o from x W_ih^T + b_ih + h W_hh^T + b_hh; c' = sigmoid(f) c + sigmoid(i) tanh(g),
    h' = sigmoid(o) tanh(c'). Returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None):
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype, generator=generator)

    def forward(self, input: Tensor,  # noqa: A002
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._batched(input, (None, None) if hx is None else tuple(hx))
        i, f, g, o = (F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)).chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return _unbatch(h, batched), _unbatch(c, batched)


class GRUCell(RNNCellBase):
    """r, z from the sums of both projections, n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),
    h' = (1 - z) n + z h."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None):
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype, generator=generator)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, (h,), batched = self._batched(input, (hx,))
        x_r, x_z, x_n = F.linear(x, self.weight_ih, self.bias_ih).chunk(3, 1)
        h_r, h_z, h_n = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, 1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        return _unbatch(n + z * (h - n), batched)
