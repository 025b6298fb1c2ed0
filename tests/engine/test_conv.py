"""Convolution, pooling and the channels-first LayerNorm: forwards against naive Python loops over
output positions, gradients against finite differences (`check_op`), errors, and nn init."""

import math
from itertools import product

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_np.functional as F
from tinygrad_np import Tensor, gradcheck, nn
from tinygrad_np.testing import check_op


# -- naive references: one Python iteration per output position --------------------------------
def naive_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    nd = w.ndim - 2
    stride, padding, dilation = ((v,) * nd if isinstance(v, int) else v for v in (stride, padding, dilation))
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    kernel = w.shape[2:]
    out_size = [(n - d * (k - 1) - 1) // s + 1
                for n, k, s, d in zip(xp.shape[2:], kernel, stride, dilation, strict=True)]
    group_in, group_out = w.shape[1], w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0], *out_size))
    for position in product(*(range(n) for n in out_size)):
        region = tuple(slice(i * s, i * s + d * (k - 1) + 1, d)
                       for i, s, d, k in zip(position, stride, dilation, kernel, strict=True))
        for g in range(groups):
            window = xp[(slice(None), slice(g * group_in, (g + 1) * group_in)) + region]
            weights = w[g * group_out:(g + 1) * group_out]
            out[(slice(None), slice(g * group_out, (g + 1) * group_out)) + position] = np.tensordot(
                window, weights, axes=(list(range(1, nd + 2)), list(range(1, nd + 2))))
    return out if b is None else out + b.reshape(-1, *[1] * nd)


def naive_pool(x, kernel_size, stride=None, padding=0, reduce=np.mean, pad_value=0.0):
    nd = x.ndim - 2
    kernel = (kernel_size,) * nd if isinstance(kernel_size, int) else kernel_size
    stride = kernel if stride is None else (stride,) * nd if isinstance(stride, int) else stride
    padding = (padding,) * nd if isinstance(padding, int) else padding
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=pad_value)
    out_size = [(n - k) // s + 1 for n, k, s in zip(xp.shape[2:], kernel, stride, strict=True)]
    out = np.zeros(x.shape[:2] + tuple(out_size))
    for position in product(*(range(n) for n in out_size)):
        region = tuple(slice(i * s, i * s + k) for i, s, k in zip(position, stride, kernel, strict=True))
        window = xp[(slice(None), slice(None)) + region]
        out[(slice(None), slice(None)) + position] = reduce(window.reshape(*x.shape[:2], -1), axis=-1)
    return out


def naive_adaptive_avg_pool(x, output_size):
    out = np.zeros(x.shape[:2] + tuple(output_size))
    for position in product(*(range(n) for n in output_size)):
        region = tuple(slice(i * n // o, -(-(i + 1) * n // o))
                       for i, n, o in zip(position, x.shape[2:], output_size, strict=True))
        out[(slice(None), slice(None)) + position] = x[(slice(None), slice(None)) + region].mean(
            axis=tuple(range(2, x.ndim)))
    return out


def tensors(*arrays):
    return [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]


# -- convolution forward against the loop ----------------------------------------------------------
CONV1D_CASES = [  # (batch, in, out, length, kernel, stride, padding, dilation, groups)
    (2, 3, 4, 9, 3, 1, 0, 1, 1),  # stride < kernel: overlapping windows
    (2, 3, 4, 10, 3, 2, 1, 1, 1),  # stride > 1 with padding
    (1, 2, 5, 8, 2, 3, 0, 1, 1),  # stride > kernel: gaps
    (2, 4, 6, 11, 3, 1, 2, 2, 1),  # dilation
    (2, 6, 4, 7, 3, 2, 1, 1, 2),  # groups
    (3, 5, 5, 7, 7, 1, 3, 1, 5),  # depthwise (ConvNeXt's), "same" length
    (2, 4, 8, 9, 3, 1, 1, 2, 4),  # depthwise with channel multiplier 2 and dilation
    (2, 3, 2, 1, 1, 1, 0, 1, 1),  # pointwise on length 1
]


@pytest.mark.parametrize("case", CONV1D_CASES)
def test_conv1d_matches_loop(case):
    batch, c_in, c_out, length, k, stride, padding, dilation, groups = case
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(batch, c_in, length)), rng.normal(size=(c_out, c_in // groups, k))
    b = rng.normal(size=c_out)
    out = F.conv1d(*tensors(x, w, b), stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = naive_conv(x, w, b, stride, padding, dilation, groups)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    no_bias = F.conv1d(*tensors(x, w), stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(no_bias.numpy(), naive_conv(x, w, None, stride, padding, dilation, groups), atol=1e-12)


CONV2D_CASES = [  # (batch, in, out, (H, W), (KH, KW), stride, padding, dilation, groups)
    (2, 3, 4, (6, 5), (3, 3), 1, 0, 1, 1),
    (2, 3, 4, (7, 6), (3, 2), (2, 1), (1, 0), 1, 1),
    (1, 4, 6, (9, 8), (3, 3), 2, 2, (2, 1), 2),
    (2, 4, 4, (5, 5), (3, 3), 1, 1, 1, 4),  # depthwise
    (1, 2, 3, (4, 7), (1, 4), 3, 0, 1, 1),  # stride > kernel
]


@pytest.mark.parametrize("case", CONV2D_CASES)
def test_conv2d_matches_loop(case):
    batch, c_in, c_out, spatial, kernel, stride, padding, dilation, groups = case
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(batch, c_in, *spatial)), rng.normal(size=(c_out, c_in // groups, *kernel))
    b = rng.normal(size=c_out)
    out = F.conv2d(*tensors(x, w, b), stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = naive_conv(x, w, b, stride, padding, dilation, groups)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv_same_and_valid_padding():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(2, 3, 8)), rng.normal(size=(4, 3, 4))
    same = F.conv1d(*tensors(x, w), padding="same").numpy()  # an odd total of 3 zeros: the extra one on the right
    assert same.shape == (2, 4, 8)
    np.testing.assert_allclose(same, naive_conv(np.pad(x, [(0, 0), (0, 0), (0, 1)]), w, padding=1), atol=1e-12)
    dilated = F.conv1d(*tensors(x, w), padding="same", dilation=2).numpy()
    np.testing.assert_allclose(dilated, naive_conv(x, w, padding=3, dilation=2), atol=1e-12)
    np.testing.assert_allclose(F.conv1d(*tensors(x, w), padding="valid").numpy(), naive_conv(x, w), atol=1e-12)


# -- convolution gradients (hypothesis: shapes, stride, padding, dilation, groups) -----------------
@st.composite
def conv_shapes(draw, nd, with_bias):
    groups, group_in, group_out = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    spatial = tuple(draw(st.integers(1, 6 if nd == 1 else 4)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    x, w = (draw(st.integers(1, 2)), groups * group_in, *spatial), (groups * group_out, group_in, *kernel)
    return (x, w, (w[0],)) if with_bias else (x, w)


def conv_kwargs(shapes):
    """stride, dilation and groups (implied by the shapes), with just enough padding (plus 0 or 1)
    for a non-empty output; ints in 1-D, tuples in 2-D."""
    (x, w), nd = shapes[:2], len(shapes[0]) - 2

    @st.composite
    def draw(draw):
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
        padding = tuple(max(0, -(-(d * (k - 1) + 1 - n) // 2)) + draw(st.integers(0, 1))
                        for n, k, d in zip(x[2:], w[2:], dilation, strict=True))
        kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": x[1] // w[1]}
        return {k: v[0] if nd == 1 and isinstance(v, tuple) else v for k, v in kwargs.items()}

    return draw()


@pytest.mark.parametrize("conv, nd", [(F.conv1d, 1), (F.conv2d, 2)])
def test_conv_gradients(conv, nd):
    check_op(lambda x, w, b, **kw: conv(x, w, b, **kw), 3, shapes=conv_shapes(nd, True), kwargs=conv_kwargs)
    check_op(lambda x, w, **kw: conv(x, w, **kw), 2, shapes=conv_shapes(nd, False), kwargs=conv_kwargs)


def test_conv_gradient_of_input_only_and_weight_only():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 4, 7)), rng.normal(size=(4, 2, 3))
    gradcheck(lambda x: F.conv1d(x, Tensor(w, dtype=np.float64), stride=2, padding=1, groups=2), x)
    gradcheck(lambda w: F.conv1d(Tensor(x, dtype=np.float64), w, dilation=2, groups=2), w)


def test_conv_keeps_float32_and_returns_c_order():
    x, w = Tensor(np.ones((2, 3, 5)), requires_grad=True), Tensor(np.ones((6, 1, 3)), requires_grad=True)
    out = F.conv1d(x, w, groups=3)
    assert out.dtype == np.float32 and out.numpy().flags["C_CONTIGUOUS"]
    out.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("x_shape, w_shape, kwargs, message", [
    ((2, 3, 8), (4, 2, 3), {}, r"has 3 channels, but weight of shape \(4, 2, 3\) with groups=1 expects 2"),
    ((2, 6, 8), (4, 3, 3), {"groups": 4}, r"groups=4 must divide in_channels=6 .* out_channels=4"),
    ((2, 3, 2), (4, 3, 3), {}, r"input of shape \(2, 3, 2\) .* too short .* output size would be \(0,\)"),
    ((2, 3, 8), (4, 3, 3), {"dilation": 4}, r"too short .* dilation \(4,\)"),
    ((8,), (4, 3, 3), {}, r"input of shape \(8,\) must be \(batch, in_channels, length\)"),
    ((2, 3, 8), (4, 3), {}, r"weight of shape \(4, 3\) must be"),
    ((2, 3, 8), (4, 3, 3), {"stride": 0}, r"stride and dilation must be >= 1"),
    ((2, 3, 8), (4, 3, 3), {"padding": -1}, r"padding must be >= 0"),
    ((2, 3, 8), (4, 3, 3), {"padding": "same", "stride": 2}, r"padding='same' needs stride 1"),
    ((2, 3, 8), (4, 3, 3), {"stride": (1, 1)}, r"stride must be an int or a tuple of 1 ints"),
])
def test_conv_errors_name_the_shapes(x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.conv1d(Tensor(np.zeros(x_shape)), Tensor(np.zeros(w_shape)), **kwargs)


def test_conv_bias_shape_error():
    with pytest.raises(ValueError, match=r"bias of shape \(3,\) does not fit weight of shape \(4, 3, 3\)"):
        F.conv1d(Tensor(np.zeros((1, 3, 5))), Tensor(np.zeros((4, 3, 3))), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(3, 5\) must be \(batch, in_channels, "
                                         r"height, width\)"):
        F.conv2d(Tensor(np.zeros((3, 5))), Tensor(np.zeros((4, 3, 3, 3))))


# -- pooling -----------------------------------------------------------------------------------------
POOL_CASES = [(2, None, 0), (3, 1, 1), (3, 2, 0), (2, 3, 1), (4, 2, 2), (1, 2, 0)]  # kernel, stride, padding


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_pools_match_loops(kernel, stride, padding):
    rng = np.random.default_rng(4)
    x1, x2 = rng.normal(size=(2, 3, 9)), rng.normal(size=(2, 2, 7, 6))
    for pool, x, reduce, pad in [(F.avg_pool1d, x1, np.mean, 0.0), (F.max_pool1d, x1, np.max, -np.inf),
                                 (F.avg_pool2d, x2, np.mean, 0.0), (F.max_pool2d, x2, np.max, -np.inf)]:
        out = pool(Tensor(x, dtype=np.float64), kernel, stride, padding).numpy()
        np.testing.assert_allclose(out, naive_pool(x, kernel, stride, padding, reduce, pad), rtol=1e-12)


def test_pool2d_tuple_arguments():
    x = np.random.default_rng(5).normal(size=(1, 2, 7, 8))
    out = F.max_pool2d(Tensor(x, dtype=np.float64), (3, 2), stride=(2, 3), padding=(1, 0)).numpy()
    np.testing.assert_array_equal(out, naive_pool(x, (3, 2), (2, 3), (1, 0), np.max, -np.inf))


def pool_kwargs(shapes):
    """kernel 1-3, stride None or 1-3, padding at most kernel / 2 and enough for a non-empty output."""
    spatial = shapes[0][2:]

    @st.composite
    def draw(draw):
        kernel = tuple(draw(st.integers(1, 3)) for _ in spatial)
        padding = tuple(draw(st.integers(max(0, -(-(k - n) // 2)), k // 2))
                        for k, n in zip(kernel, spatial, strict=True))
        stride = draw(st.one_of(st.none(), st.tuples(*(st.integers(1, 3) for _ in spatial))))
        return {"kernel_size": kernel, "stride": stride, "padding": padding}

    return draw()


@pytest.mark.parametrize("pool, nd, distinct", [(F.avg_pool1d, 1, False), (F.max_pool1d, 1, True),
                                                (F.avg_pool2d, 2, False), (F.max_pool2d, 2, True)])
def test_pool_gradients(pool, nd, distinct):
    shapes = st.tuples(st.tuples(st.integers(1, 2), st.integers(1, 2),
                                 *(st.integers(1, 6 if nd == 1 else 4) for _ in range(nd))))
    check_op(lambda x, **kw: pool(x, **kw), shapes=shapes, kwargs=pool_kwargs, distinct=distinct)


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = Tensor([[[1.0, 3.0, 3.0, 0.0]]], requires_grad=True)
    F.max_pool1d(x, 3, stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[0.0, 2.0, 0.0, 0.0]]])


def test_overlapping_avg_pool_windows_add_their_gradients():
    x = Tensor(np.zeros((1, 1, 5)), requires_grad=True)
    F.avg_pool1d(x, 3, stride=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[[1 / 3, 2 / 3, 1.0, 2 / 3, 1 / 3]]], rtol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda x: F.max_pool1d(x, 2, padding=2), r"pad should be at most half of effective kernel size, got "
                                              r"padding=\(2,\), kernel_size=\(2,\)"),
    (lambda x: F.avg_pool1d(x, 9), r"input of shape \(1, 2, 5\) .* too small for kernel_size \(9,\)"),
    (lambda x: F.avg_pool2d(x[0], 2), r"avg_pool2d: input of shape \(2, 5\) must be \(batch, channels, height, "),
    (lambda x: F.max_pool1d(x, 0), r"need kernel_size, stride and dilation >= 1"),
])
def test_pool_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(Tensor(np.zeros((1, 2, 5))))


@pytest.mark.parametrize("length, out", [(7, 3), (6, 4), (5, 5), (4, 1), (3, 5)])
def test_adaptive_avg_pool1d_uses_pytorchs_windows(length, out):
    x = np.random.default_rng(6).normal(size=(2, 3, length))
    np.testing.assert_allclose(F.adaptive_avg_pool1d(Tensor(x, dtype=np.float64), out).numpy(),
                               naive_adaptive_avg_pool(x, (out,)), rtol=1e-12)


def test_adaptive_avg_pool2d_and_none():
    x = np.random.default_rng(7).normal(size=(2, 3, 7, 5))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(Tensor(x, dtype=np.float64), (3, 2)).numpy(),
                               naive_adaptive_avg_pool(x, (3, 2)), rtol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(Tensor(x, dtype=np.float64), (None, 2)).numpy(),
                               naive_adaptive_avg_pool(x, (7, 2)), rtol=1e-12)


def test_adaptive_avg_pool_gradients():
    def sizes(shapes):
        return st.fixed_dictionaries({"output_size": st.tuples(*(st.integers(1, 5) for _ in shapes[0][2:]))})

    shapes1 = st.tuples(st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 7)))
    check_op(lambda x, output_size: F.adaptive_avg_pool1d(x, output_size[0]), shapes=shapes1, kwargs=sizes)
    shapes2 = st.tuples(st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 5), st.integers(1, 5)))
    check_op(lambda x, output_size: F.adaptive_avg_pool2d(x, output_size), shapes=shapes2, kwargs=sizes)


# -- channels-first LayerNorm -----------------------------------------------------------------------
def test_channels_first_layer_norm_matches_definition_and_gradients():
    rng = np.random.default_rng(8)
    x, w, b = rng.normal(size=(2, 5, 4, 3)), rng.normal(size=5), rng.normal(size=5)
    out = F.channels_first_layer_norm(*tensors(x, w, b), eps=1e-3).numpy()
    expected = ((x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-3)
                * w[:, None, None] + b[:, None, None])
    np.testing.assert_allclose(out, expected, rtol=1e-10)

    @st.composite
    def shapes(draw):
        x = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), *(draw(st.integers(1, 4)) for _ in
                                                                  range(draw(st.integers(0, 2)))))
        return x, (x[1],), (x[1],)

    check_op(lambda x, w, b: F.channels_first_layer_norm(x, w, b, eps=1e-5), 3, shapes=shapes())


def test_channels_first_layer_norm_module_equals_last_axis_layer_norm():
    x = np.random.default_rng(9).normal(size=(3, 6, 7)).astype(np.float32)
    out = nn.ChannelsFirstLayerNorm(6)(Tensor(x)).numpy()
    reference = nn.LayerNorm(6, eps=1e-6)(Tensor(x.transpose(0, 2, 1))).numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"ChannelsFirstLayerNorm\(6\): input of shape \(3, 7, 6\) must be"):
        nn.ChannelsFirstLayerNorm(6)(Tensor(x.transpose(0, 2, 1)))


# -- nn.Conv1d / nn.Conv2d -----------------------------------------------------------------------------
@pytest.mark.parametrize("module, in_channels, out_channels, kernel_size, groups", [
    (nn.Conv1d, 12, 256, 5, 1), (nn.Conv1d, 12, 384, 3, 3), (nn.Conv1d, 64, 4096, 7, 64),
    (nn.Conv2d, 4, 128, (3, 2), 2),
])
def test_conv_init_matches_pytorch_formula(module, in_channels, out_channels, kernel_size, groups):
    """kaiming_uniform(a=sqrt(5)) = uniform(+-1/sqrt(fan_in)), fan_in = in/groups * prod(kernel); bias alike."""
    conv = module(in_channels, out_channels, kernel_size, groups=groups, generator=np.random.default_rng(0))
    fan_in = in_channels // groups * math.prod(np.atleast_1d(kernel_size))
    bound = 1 / math.sqrt(fan_in)
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert w.shape == (out_channels, in_channels // groups, *np.atleast_1d(kernel_size)) and w.dtype == np.float32
    for values in (w, b):
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
        # uniform(-bound, bound): mean 0 (sd bound/sqrt(3n)), variance bound^2/3 (relative sd sqrt(0.8/n))
        n = values.size
        assert abs(values.mean()) < 5 * bound / math.sqrt(3 * n)
        assert abs(values.var() / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / n)


def test_conv_modules_forward_and_errors():
    rng = np.random.default_rng(10)
    conv = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, generator=rng)
    x = rng.normal(size=(2, 4, 9)).astype(np.float32)
    expected = naive_conv(x.astype(np.float64), conv.weight.numpy().astype(np.float64), conv.bias.numpy(), 2, 1, 1, 2)
    np.testing.assert_allclose(conv(Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert repr(conv) == "Conv1d(4, 6, kernel_size=(3,), stride=2, padding=1, groups=2)"
    conv2 = nn.Conv2d(3, 5, (3, 1), padding=(1, 0), bias=False, generator=rng)
    assert conv2(Tensor(np.zeros((1, 3, 4, 4)))).shape == (1, 5, 4, 4) and conv2.bias is None
    with pytest.raises(ValueError, match="groups=3 must divide in_channels=4 and out_channels=6"):
        nn.Conv1d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a tuple of 2 ints"):
        nn.Conv2d(4, 6, (3, 3, 3))
