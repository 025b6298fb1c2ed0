"""gradcheck and check_op must catch a wrong backward, not only pass right ones."""

import numpy as np
import pytest

import tinygrad_np.functional as F
from tinygrad_np import Function, GradcheckError, Tensor, gradcheck
from tinygrad_np.testing import check_op


class BrokenSquare(Function):
    """x**2 with a backward that forgets the factor 2."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * self.x


class MutatingExp(Function):
    def forward(self, x):
        out = np.exp(x)
        x += 0.0 * x + 1e-3  # writes into its input: check_op must notice
        return out

    def backward(self, grad):
        return grad * 0


def x64(shape=(3, 4), seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), dtype=np.float64, requires_grad=True)


def test_gradcheck_passes_a_correct_op_and_reports():
    report = gradcheck(lambda x: (x * x).sum(axis=1), x64())
    assert report.ok and report.checked == 12 and report.max_abs_error < 1e-6
    assert "passed" in str(report)


def test_gradcheck_catches_a_broken_backward_and_names_the_input():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda a, b: BrokenSquare.apply(a) * b, x64(seed=1), x64(seed=2))
    report = caught.value.report
    assert not report.ok
    assert {m.input for m in report.mismatches} == {0}  # input 1 is fine
    assert "input 0, index" in str(caught.value) and "finite difference" in str(caught.value)


def test_projection_mode_catches_it_too_with_constant_evaluations():
    calls = []

    def fn(x):
        calls.append(1)
        return BrokenSquare.apply(x)

    report = gradcheck(fn, x64((40, 50)), mode="projection", n_projections=3, raise_exception=False)
    assert not report.ok
    assert len(calls) == 1 + 2 * 3  # one taped forward, two per projection: independent of the size


def test_projection_mode_passes_a_correct_op_on_a_large_input():
    assert gradcheck(lambda x: F.gelu(x).sum(), x64((100, 100)), mode="projection")


def test_gradcheck_refuses_float32_and_restores_inputs():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x.sum(), Tensor(np.ones(3), requires_grad=True))
    x = x64()
    before = x.numpy().copy()
    gradcheck(lambda x: (x * x).sum(), x)
    np.testing.assert_array_equal(x.numpy(), before)


def test_gradcheck_through_a_closure_over_parameters():
    w = x64((4, 2))
    data = np.random.default_rng(3).standard_normal((5, 4))
    assert gradcheck(lambda w: F.tanh(Tensor(data, dtype=np.float64) @ w).mean(), w)


def test_check_op_catches_a_broken_op():
    with pytest.raises(GradcheckError):
        check_op(BrokenSquare.apply, max_examples=5)


def test_check_op_catches_an_op_that_mutates_its_input():
    with pytest.raises(AssertionError, match="mutated"):
        check_op(lambda x: F.exp(x) + MutatingExp.apply(x) * 0, max_examples=5, check_float32=False)


def test_check_op_catches_a_silent_upcast():
    def upcasting(x):
        return x * Tensor(2.0, dtype=np.float64) if x.dtype == np.float64 else x.to(np.float64) * 2

    with pytest.raises(AssertionError, match="float64 output"):
        check_op(upcasting, max_examples=5)
