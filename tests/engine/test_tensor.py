"""The tape itself: accumulation, release, diamonds, deep graphs, no_grad, dtypes, errors."""

import gc
import weakref

import numpy as np
import pytest

import tinygrad_np.functional as F
from tinygrad_np import Function, Tensor, enable_grad, is_grad_enabled, no_grad
from tinygrad_np.engine import unbroadcast


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, dtype=dtype)


def test_chain_of_ten_thousand_ops_has_no_recursion_error():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001 ** 10_000, rtol=1e-9)


def test_diamond_gets_the_sum_of_both_paths():
    a = leaf([1.0, 2.0])
    b = a + a
    c = b + b
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 4.0])
    x = leaf([3.0])
    (x * x + x).backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [7.0])


def test_non_scalar_backward_needs_a_gradient():
    with pytest.raises(RuntimeError, match="non-scalar"):
        (leaf([1.0, 2.0]) * 2).backward()
    with pytest.raises(ValueError, match="shape"):
        (leaf([1.0, 2.0]) * 2).backward(np.ones(3))


def test_backward_on_a_tensor_without_graph_fails_clearly():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_leaf_gradients_accumulate_until_zeroed():
    x = leaf([1.0, -2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3 + 2.0, 3 - 4.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_accumulation_does_not_write_into_a_shared_gradient():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward()  # Add hands the same array to both inputs
    (a * 5).sum().backward()
    np.testing.assert_array_equal(a.grad, [6.0])
    np.testing.assert_array_equal(b.grad, [1.0])


def test_interior_tensors_keep_no_gradient_unless_asked():
    x = leaf([1.0, 2.0])
    hidden = x * 2
    kept = x * 3
    kept.retain_grad()
    (hidden * kept).sum().backward()
    assert hidden.grad is None
    np.testing.assert_array_equal(kept.grad, [2.0, 4.0])


def test_the_tape_is_released_after_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_released_graph_frees_intermediates_without_the_garbage_collector():
    gc.disable()
    try:
        x = leaf(np.ones(1000))
        hidden = x.exp()
        probe = weakref.ref(hidden.numpy())
        loss = (hidden * hidden).sum()
        del hidden
        assert probe() is not None  # saved by Mul for its backward
        loss.backward()
        assert probe() is None  # freed by reference counting alone (no cycles), while `loss` lives on
    finally:
        gc.enable()


def test_backward_frees_each_activation_once_its_ops_are_done():
    """By the time backward reaches the first op of a chain, the activations after it are gone (not only at the
    end of backward): peak memory stays at what the remaining ops need."""
    alive_at_the_first_op = []
    probes = []

    class First(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, grad):
            gc.collect()
            alive_at_the_first_op.extend(probe() is not None for probe in probes)
            return grad

    x = leaf(np.ones(1000))
    h = First.apply(x)
    for _ in range(3):
        e = h.exp()  # Exp saves its output, and Mul its inputs, for their backward
        probes.append(weakref.ref(e.numpy()))
        h = e * 0.5
    loss = h.sum()
    del h, e
    assert all(probe() is not None for probe in probes)
    loss.backward()
    assert alive_at_the_first_op == [False, False, False]


def test_an_input_no_op_saved_is_freed_during_the_forward():
    """The graph keeps what backward needs of an intermediate tensor (shape, dtype, the op that made it), not its
    array: Add saves nothing, so its inputs' arrays go as soon as the tensors do."""
    x = leaf(np.ones(1000))
    h = x + 1.0
    probe = weakref.ref(h.numpy())
    loss = ((h + 2.0) * 3.0).sum()
    del h
    assert probe() is None
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.full(1000, 3.0))


def test_repeated_steps_do_not_grow_the_number_of_live_tensors():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((8, 4)), requires_grad=True)

    def step():
        x = Tensor(rng.standard_normal((16, 8)))
        loss = F.gelu(F.layer_norm(x @ w, 4)).mean()
        loss.backward()
        w.grad = None

    def live_tensors():
        gc.collect()
        return sum(issubclass(type(o), Tensor) for o in gc.get_objects())

    step()
    before = live_tensors()
    for _ in range(20):
        step()
    assert live_tensors() <= before


def test_no_grad_records_nothing_as_context_and_decorator():
    x = leaf([1.0])
    with no_grad():
        y = x * 2
        assert not is_grad_enabled()
        with enable_grad():
            z = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    (x.detach() * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_float32_by_default_and_float64_when_asked():
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor(np.ones(2)).dtype == np.float32
    assert Tensor(np.ones(2), dtype=np.float64).dtype == np.float64


def test_scalars_and_arrays_mix_in_without_upcasting():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    results = [x * 2, 2 - x, x / 3.0, np.ones(2) + x, np.ones((3, 2)) @ x, x ** 2, 1.5 ** x]
    for r in results:
        assert r.dtype == np.float32
    (np.ones((3, 2)) @ x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 3.0))
    assert x.grad.dtype == np.float32


def test_dtypes_promote_as_pytorch_and_only_floats_take_gradients():
    single, double = Tensor([1.0], requires_grad=True), Tensor([1.0], dtype=np.float64, requires_grad=True)
    mixed = single * double  # float32 with float64: float64, and each input gets its own dtype back
    assert mixed.dtype == np.float64
    mixed.sum().backward()
    assert single.grad.dtype == np.float32 and double.grad.dtype == np.float64
    integers = Tensor([1, 2], dtype=np.int64)
    assert (integers + 1).dtype == np.int64 and (integers * 2.5).dtype == np.float32
    assert (integers / 2).dtype == np.float32 and F.exp(integers).dtype == np.float32
    assert (single + integers).dtype == np.float32 and (integers > 1).dtype == bool
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError, match="mean: needs a floating-point tensor"):
        integers.mean()


def test_shape_errors_name_the_op_and_both_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match=r"linear.*\(2, 3\).*\(4, 5\)"):
        F.linear(a, b)


def test_plain_accessors():
    x = Tensor(np.arange(6).reshape(2, 3))
    assert x.shape == x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2
    assert x.ndim == x.dim() == 2 and x.numel() == 6 and len(x) == 2 and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert isinstance(x.numpy(), np.ndarray) and x.sum().item() == 15.0
    assert x.requires_grad_().requires_grad
    assert np.asarray(x).shape == (2, 3)
    assert "requires_grad=True" in repr(x) and "grad_fn=<MulBackward>" in repr(x * 2)


def test_comparisons_give_boolean_constants():
    x = Tensor([-1.0, 2.0])
    mask = x > 0
    assert mask.dtype == bool and not mask.requires_grad
    np.testing.assert_array_equal(F.where(mask, x, 0.0).numpy(), [0.0, 2.0])


def test_astype_casts_gradients_back():
    x = leaf([1.0, 2.0])
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_unbroadcast_sums_leading_and_stretched_axes():
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), grad.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(grad, (1, 3, 4)), grad.sum(axis=0, keepdims=True))
    np.testing.assert_array_equal(unbroadcast(grad, ()), grad.sum())
    with pytest.raises(AssertionError, match="cannot be reduced"):
        unbroadcast(grad, (5,))


def test_size_one_middle_axis_broadcast():
    a = leaf(np.ones((2, 1, 3)))
    b = leaf(np.ones((4, 1)))
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((2, 1, 3), 4.0))
    np.testing.assert_array_equal(b.grad, np.full((4, 1), 6.0))
