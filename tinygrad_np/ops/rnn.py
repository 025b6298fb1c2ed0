"""Recurrent layers over a whole sequence, each one op: the loop over time runs inside `forward`, and
backpropagation through time inside `backward`.

Why one op per layer and direction rather than a few per time step: the tape records single-output ops, so a
per-step tape must slice the sequence (`gates_x[t]`) once per step, and each slice's backward builds a gradient of
the whole sequence's size, which the walk then adds up: work that grows with the square of the sequence length.
Inside one op the step is a GEMM plus a few in-place numpy calls on (batch, hidden) arrays, the input projection of
every step is one GEMM done before the op (`F.linear` on the whole sequence, by the layer), and the recurrent
weight's gradient is one GEMM over all steps after the loop.

Each op takes the input projections `gates_x` (time, batch, gates) -- x_t W_ih^T + b_ih for every t -- the initial
state, the recurrent weight W_hh (gates, hidden) and optionally its bias b_hh, with PyTorch's gate order (LSTM i, f,
g, o; GRU r, z, n, the reset gate applied to W_hn h + b_hn). `reverse=True` runs from the last step to the first
(the backward direction of a bidirectional layer); outputs stay in time order. `composed` beside each op is the same
recurrence written step by step from engine ops (autograd derives its backward); the tests check they agree.
"""

from __future__ import annotations

import numpy as np

from ..engine import Function, Tensor
from ..kernels.numpy_path import column_sums
from . import elementwise as ew
from . import fused, movement


def _check(gates_x: np.ndarray, h0: np.ndarray, w_hh: np.ndarray, gates: int, name: str) -> tuple[int, int, int]:
    """(steps, batch, hidden) after checking the shapes fit: gates_x (T, N, gates * hidden), h0 (N, P),
    w_hh (gates * hidden, P)."""
    if gates_x.ndim != 3 or gates_x.shape[2] % gates or h0.ndim != 2 or h0.shape[0] != gates_x.shape[1]:
        raise ValueError(f"{name}: gates_x of shape {gates_x.shape} must be (time, batch, {gates} * hidden) and h0 of "
                         f"shape {h0.shape} (batch, hidden)")
    if w_hh.shape != (gates_x.shape[2], h0.shape[1]):
        raise ValueError(f"{name}: weight_hh of shape {w_hh.shape} does not fit gates_x {gates_x.shape} and h0 "
                         f"{h0.shape}")
    steps, batch, width = gates_x.shape
    return steps, batch, width // gates


def _sigmoid_(x: np.ndarray) -> None:
    """sigmoid(x) = (1 + tanh(x / 2)) / 2, in place: four cheap passes instead of scipy's expit, the costliest
    element-wise call of a step otherwise. Within 6e-8 of the exact sigmoid in float32 (expit: 9e-8) and 2.3e-16 in
    float64, absolute."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _previous(states: np.ndarray, first: np.ndarray, t: int, reverse: bool) -> np.ndarray:
    """The state step t started from: what the step before it left (`states`, by time), or `first` at the first
    step."""
    before = t + 1 if reverse else t - 1
    return first if before < 0 or before == len(states) else states[before]


def _recurrent_weight_grad(dgates: np.ndarray, y: np.ndarray, h0: np.ndarray, reverse: bool) -> np.ndarray:
    """sum over t of dgates[t]^T @ (the state step t started from), as two GEMMs: one over every step whose state
    was an earlier output, one for the step that started from h0."""
    width, hidden = dgates.shape[-1], y.shape[-1]
    if reverse:
        inner, first = dgates[:-1].reshape(-1, width).T @ y[1:].reshape(-1, hidden), dgates[-1].T @ h0
    else:
        inner, first = dgates[1:].reshape(-1, width).T @ y[:-1].reshape(-1, hidden), dgates[0].T @ h0
    inner += first
    return inner


def _step_slices(x: Tensor, reverse: bool) -> list[tuple[int, Tensor]]:
    """(t, x[t]) in the order the recurrence visits them (for the composed versions)."""
    return [(t, x[t]) for t in _order(x.shape[0], reverse)]


def _project(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return fused.Linear.apply(h, weight) if bias is None else fused.Linear.apply(h, weight, bias)


class RNNLayer(Function):
    """The Elman RNN: h_t = tanh(gates_x[t] + h_{t-1} W_hh^T + b_hh) (or relu), for every t. Output: every h_t,
    shape (T, N, H). Backward: dpre_t = (dy_t + dh_t) * act'(pre_t), dh_{t-1} = dpre_t W_hh."""

    def forward(self, gates_x, h0, w_hh, *bias, reverse=False, relu=False):
        steps, _, _ = _check(gates_x, h0, w_hh, 1, "rnn")
        pre = gates_x + bias[0] if bias else gates_x
        y = np.empty_like(gates_x)
        w_t, h = w_hh.T, h0
        for t in _order(steps, reverse):
            out = np.matmul(h, w_t, out=y[t])
            out += pre[t]
            if relu:
                np.maximum(out, 0, out=out)
            else:
                np.tanh(out, out=out)
            h = out
        if any(self.needs_input_grad):
            self.y, self.h0, self.w_hh, self.reverse, self.relu, self.has_bias = y, h0, w_hh, reverse, relu, bool(bias)
        return y

    def backward(self, grad):
        y, h0, w_hh, reverse = self.y, self.h0, self.w_hh, self.reverse
        slope = (y > 0).astype(y.dtype) if self.relu else 1 - y * y
        dpre = np.empty_like(y)
        dh = None
        for t in _order(len(y), not reverse):
            total = grad[t] if dh is None else np.add(grad[t], dh, out=dh)
            np.multiply(total, slope[t], out=dpre[t])
            dh = dpre[t] @ w_hh
        needs = self.needs_input_grad
        grads = [dpre if needs[0] else None, dh if needs[1] else None,
                 _recurrent_weight_grad(dpre, y, h0, reverse) if needs[2] else None]
        if self.has_bias:
            grads.append(column_sums(dpre.reshape(-1, dpre.shape[-1])) if needs[3] else None)
        return tuple(grads)

    @staticmethod
    def composed(gates_x: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None = None, reverse: bool = False,
                 relu: bool = False) -> Tensor:
        """The same recurrence step by step on the tape (slices, Linear, tanh or relu, stack)."""
        h, outputs = h0, {}
        for t, x_t in _step_slices(gates_x, reverse):
            pre = x_t + _project(h, w_hh, b_hh)
            h = outputs[t] = ew.Relu.apply(pre) if relu else ew.Tanh.apply(pre)
        return movement.Stack.apply(*[outputs[t] for t in range(gates_x.shape[0])], axis=0)


class LSTMLayer(Function):
    """The LSTM with PyTorch's gate order i, f, g, o: with a = gates_x[t] + h_{t-1} W_hh^T + b_hh split in four,
    i, f, o = sigmoid(a_i, a_f, a_o), g = tanh(a_g), c_t = f c_{t-1} + i g, h_t = o tanh(c_t), and with a projection
    (proj_size) h_t = (o tanh(c_t)) W_hr^T. Inputs gates_x (T, N, 4H), h0 (N, P), c0 (N, H), W_hh (4H, P), then b_hh
    (4H) and W_hr (P, H) when `has_bias` / `has_proj`; P = H without a projection.

    The output packs every h_t and the last cell state into one flat array, (T * N * P) then (N * H): the layer
    slices it into `output` and `c_n` (an op has one output). Backward, from the last step to the first:
        dh = dy_t + dh_t (times W_hr with a projection),  dc = dc_t + dh o (1 - tanh^2 c_t),
        da_i = dc g i (1 - i),  da_f = dc c_{t-1} f (1 - f),  da_g = dc i (1 - g^2),  da_o = dh tanh(c_t) o (1 - o),
        dh_{t-1} = da W_hh,  dc_{t-1} = dc f.
    """

    def forward(self, gates_x, h0, c0, w_hh, *rest, reverse=False, has_bias=False, has_proj=False):
        steps, batch, hidden = _check(gates_x, h0, w_hh, 4, "lstm")
        if c0.shape != (batch, hidden):
            raise ValueError(f"lstm: c0 of shape {c0.shape} must be (batch, hidden) = {(batch, hidden)}")
        w_hr = rest[-1] if has_proj else None
        if has_proj and w_hr.shape != (h0.shape[1], hidden):
            raise ValueError(f"lstm: weight_hr of shape {w_hr.shape} must be (proj_size, hidden) = "
                             f"{(h0.shape[1], hidden)}")
        width = h0.shape[1]
        gates = gates_x + rest[0] if has_bias else gates_x.copy()  # becomes the gates' activations, step by step
        packed = np.empty(steps * batch * width + batch * hidden, dtype=gates_x.dtype)
        y = packed[:steps * batch * width].reshape(steps, batch, width)
        cells, tanh_c = np.empty((2, steps, batch, hidden), dtype=gates_x.dtype)
        unprojected = np.empty((steps, batch, hidden), dtype=gates_x.dtype) if has_proj else y
        product = np.empty((batch, 4 * hidden), dtype=gates_x.dtype)
        w_t = w_hh.T
        h, c = h0, c0
        for t in _order(steps, reverse):
            a = gates[t]
            a += np.matmul(h, w_t, out=product)
            sigmoid_if, g, o = a[:, :2 * hidden], a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
            _sigmoid_(sigmoid_if)
            np.tanh(g, out=g)
            _sigmoid_(o)
            c = np.multiply(a[:, hidden:2 * hidden], c, out=cells[t])
            c += np.multiply(a[:, :hidden], g, out=product[:, :hidden])
            np.multiply(o, np.tanh(c, out=tanh_c[t]), out=unprojected[t])
            h = np.matmul(unprojected[t], w_hr.T, out=y[t]) if has_proj else unprojected[t]
        packed[steps * batch * width:] = c.reshape(-1)
        if any(self.needs_input_grad):
            self.gates, self.cells, self.tanh_c, self.y, self.unprojected = gates, cells, tanh_c, y, unprojected
            self.h0, self.c0, self.w_hh, self.w_hr = h0, c0, w_hh, w_hr
            self.reverse, self.has_bias = reverse, has_bias
        return packed

    def backward(self, grad):
        gates, cells, tanh_c, y, w_hh, w_hr = self.gates, self.cells, self.tanh_c, self.y, self.w_hh, self.w_hr
        steps, batch, width = y.shape
        hidden = cells.shape[-1]
        dy = grad[:steps * batch * width].reshape(steps, batch, width)
        dc = grad[steps * batch * width:].reshape(batch, hidden).copy()
        # the slopes of the four activations and o (1 - tanh^2 c), for every step at once
        slope = 1 - gates
        slope *= gates
        g = gates[..., 2 * hidden:3 * hidden]
        np.multiply(g, g, out=slope[..., 2 * hidden:3 * hidden])
        np.subtract(1, slope[..., 2 * hidden:3 * hidden], out=slope[..., 2 * hidden:3 * hidden])
        o_slope = 1 - tanh_c * tanh_c
        o_slope *= gates[..., 3 * hidden:]
        dgates = np.empty_like(gates)
        dh_all = np.empty_like(y) if w_hr is not None else None
        scratch = np.empty((batch, hidden), dtype=gates.dtype)
        dh = None
        for t in _order(steps, not self.reverse):
            a, da = gates[t], dgates[t]
            total = dy[t] if dh is None else np.add(dy[t], dh, out=dh)
            if w_hr is not None:
                dh_all[t] = total
                dh_u = total @ w_hr
            else:
                dh_u = total
            np.multiply(dh_u, tanh_c[t], out=da[:, 3 * hidden:])
            dc += np.multiply(dh_u, o_slope[t], out=scratch)
            np.multiply(dc, a[:, 2 * hidden:3 * hidden], out=da[:, :hidden])
            np.multiply(dc, _previous(cells, self.c0, t, self.reverse), out=da[:, hidden:2 * hidden])
            np.multiply(dc, a[:, :hidden], out=da[:, 2 * hidden:3 * hidden])
            dc *= a[:, hidden:2 * hidden]
            da *= slope[t]
            dh = da @ w_hh
        needs = self.needs_input_grad
        grads = [dgates if needs[0] else None, dh if needs[1] else None, dc if needs[2] else None,
                 _recurrent_weight_grad(dgates, y, self.h0, self.reverse) if needs[3] else None]
        if self.has_bias:
            grads.append(column_sums(dgates.reshape(-1, 4 * hidden)) if needs[4] else None)
        if w_hr is not None:
            grads.append(dh_all.reshape(-1, width).T @ self.unprojected.reshape(-1, hidden) if needs[-1] else None)
        return tuple(grads)

    @staticmethod
    def composed(gates_x: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, b_hh: Tensor | None = None,
                 w_hr: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        """The same recurrence step by step on the tape; returns (every h_t stacked, the last c)."""
        hidden = c0.shape[-1]
        h, c, outputs = h0, c0, {}
        for t, x_t in _step_slices(gates_x, reverse):
            a = x_t + _project(h, w_hh, b_hh)
            i, f = ew.Sigmoid.apply(a[:, :hidden]), ew.Sigmoid.apply(a[:, hidden:2 * hidden])
            g, o = ew.Tanh.apply(a[:, 2 * hidden:3 * hidden]), ew.Sigmoid.apply(a[:, 3 * hidden:])
            c = f * c + i * g
            h = o * ew.Tanh.apply(c)
            if w_hr is not None:
                h = fused.Linear.apply(h, w_hr)
            outputs[t] = h
        return movement.Stack.apply(*[outputs[t] for t in range(gates_x.shape[0])], axis=0), c


class GRULayer(Function):
    """The GRU with PyTorch's gate order r, z, n: with b = h_{t-1} W_hh^T + b_hh split in three,
    r = sigmoid(gates_x_r + b_r), z = sigmoid(gates_x_z + b_z), n = tanh(gates_x_n + r * b_n),
    h_t = (1 - z) n + z h_{t-1}. Output: every h_t, (T, N, H). Backward, from the last step to the first:
        dh = dy_t + dh_t,  da_n = dh (1 - z)(1 - n^2),  da_z = dh (h_{t-1} - n) z (1 - z),
        da_r = da_n b_n r (1 - r);  the recurrent product's gradient is (da_r, da_z, da_n r),
        dh_{t-1} = (da_r, da_z, da_n r) W_hh + dh z.
    """

    def forward(self, gates_x, h0, w_hh, *bias, reverse=False):
        steps, batch, hidden = _check(gates_x, h0, w_hh, 3, "gru")
        gates = np.empty_like(gates_x)  # r, z, n
        recurrent = np.empty_like(gates_x)  # h_{t-1} W_hh^T + b_hh, of which the n part is kept for backward
        y = np.empty((steps, batch, hidden), dtype=gates_x.dtype)
        w_t, h = w_hh.T, h0
        for t in _order(steps, reverse):
            a, b, x = gates[t], recurrent[t], gates_x[t]
            np.matmul(h, w_t, out=b)
            if bias:
                b += bias[0]
            rz = np.add(x[:, :2 * hidden], b[:, :2 * hidden], out=a[:, :2 * hidden])
            _sigmoid_(rz)
            n = np.multiply(a[:, :hidden], b[:, 2 * hidden:], out=a[:, 2 * hidden:])
            n += x[:, 2 * hidden:]
            np.tanh(n, out=n)
            out = np.subtract(h, n, out=y[t])
            out *= a[:, hidden:2 * hidden]
            out += n
            h = out
        if any(self.needs_input_grad):
            self.gates, self.recurrent_n, self.y, self.h0, self.w_hh = (gates, recurrent[..., 2 * hidden:], y, h0,
                                                                        w_hh)
            self.reverse, self.has_bias = reverse, bool(bias)
        return y

    def backward(self, grad):
        gates, recurrent_n, y, h0, w_hh = self.gates, self.recurrent_n, self.y, self.h0, self.w_hh
        hidden = y.shape[-1]
        rz_slope = 1 - gates[..., :2 * hidden]
        rz_slope *= gates[..., :2 * hidden]
        n_slope = 1 - gates[..., 2 * hidden:] * gates[..., 2 * hidden:]
        dgates, drecurrent = np.empty_like(gates), np.empty_like(gates)
        direct = np.empty_like(h0)
        dh = None
        for t in _order(len(y), not self.reverse):
            a, da, db = gates[t], dgates[t], drecurrent[t]
            total = grad[t] if dh is None else np.add(grad[t], dh, out=dh)
            r, z, n = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:]
            np.multiply(total, z, out=direct)
            dn = np.subtract(total, direct, out=da[:, 2 * hidden:])
            dn *= n_slope[t]
            dz = np.subtract(_previous(y, h0, t, self.reverse), n, out=da[:, hidden:2 * hidden])
            dz *= total
            np.multiply(dn, r, out=db[:, 2 * hidden:])
            np.multiply(dn, recurrent_n[t], out=da[:, :hidden])
            da[:, :2 * hidden] *= rz_slope[t]
            db[:, :2 * hidden] = da[:, :2 * hidden]
            dh = db @ w_hh
            dh += direct
        needs = self.needs_input_grad
        grads = [dgates if needs[0] else None, dh if needs[1] else None,
                 _recurrent_weight_grad(drecurrent, y, h0, self.reverse) if needs[2] else None]
        if self.has_bias:
            grads.append(column_sums(drecurrent.reshape(-1, 3 * hidden)) if needs[3] else None)
        return tuple(grads)

    @staticmethod
    def composed(gates_x: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None = None,
                 reverse: bool = False) -> Tensor:
        """The same recurrence step by step on the tape."""
        hidden = h0.shape[-1]
        h, outputs = h0, {}
        for t, x_t in _step_slices(gates_x, reverse):
            b = _project(h, w_hh, b_hh)
            r = ew.Sigmoid.apply(x_t[:, :hidden] + b[:, :hidden])
            z = ew.Sigmoid.apply(x_t[:, hidden:2 * hidden] + b[:, hidden:2 * hidden])
            n = ew.Tanh.apply(x_t[:, 2 * hidden:] + r * b[:, 2 * hidden:])
            h = outputs[t] = n + z * (h - n)
        return movement.Stack.apply(*[outputs[t] for t in range(gates_x.shape[0])], axis=0)
