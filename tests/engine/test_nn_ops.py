"""The `nn.functional` surface PyTorch users reach for: the activations, transposed and 3-D convolution, pooling with
PyTorch's options, unpooling, adaptive max pooling, unfold/fold, interpolate, pad's modes, binary cross-entropy and
cross-entropy on class probabilities, and their `nn` modules.

Gradients go through `check_op` (float64, inputs away from kinks, distinct values where a max picks); the ops and the
modules are compared with PyTorch (forward and gradient, from the same weights) where it is installed.
"""

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_np as tg
import tinygrad_np.nn as nn
import tinygrad_np.nn.functional as F
from tinygrad_np.testing import broadcastable_shapes, check_op

one_shape = broadcastable_shapes(1)

# -- gradients ------------------------------------------------------------------------------------------------------
ACTIVATIONS = [  # (name, op, domain, kinks)
    ("elu", lambda x: F.elu(x, 0.7), (-3, 3), (0,)),
    ("celu", lambda x: F.celu(x, 1.5), (-3, 3), (0,)),
    ("selu", F.selu, (-3, 3), (0,)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), (-3, 3), (0,)),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.5), (-3, 3), (-0.5, 1.5)),
    ("relu6", F.relu6, (-2, 8), (0, 6)),
    ("hardsigmoid", F.hardsigmoid, (-5, 5), (-3, 3)),
    ("hardswish", F.hardswish, (-5, 5), (-3, 3)),
    ("mish", F.mish, (-4, 4), ()),
    ("silu", F.silu, (-4, 4), ()),
    ("logsigmoid", F.logsigmoid, (-6, 6), ()),
    ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0), (-3, 3), (1.5,)),
    ("softmin", lambda x: F.softmin(x, -1) if x.ndim else F.softmin(x, 0), (-3, 3), ()),
]


@pytest.mark.parametrize("name, op, domain, kinks", ACTIVATIONS, ids=[case[0] for case in ACTIVATIONS])
def test_activation_gradients(name, op, domain, kinks):
    check_op(op, domain=domain, avoid=kinks, margin=0.05, max_examples=4)


def test_glu_gradient():
    even_last = broadcastable_shapes(1, min_dims=1).map(lambda s: (s[0][:-1] + (2 * s[0][-1],),))
    check_op(lambda x: F.glu(x), shapes=even_last, max_examples=4)


@st.composite
def transposed_conv_shapes(draw, nd):
    """(input, weight, bias) shapes of a grouped transposed convolution: weight (C_in, C_out / groups, *kernel),
    so groups = bias size / weight.shape[1]."""
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    return (draw(st.integers(1, 2)), c_in, *spatial), (c_in, c_out // groups, *kernel), (c_out,)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_gradients(nd):
    transpose = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]

    def op(x, w, b, stride, padding, dilation):
        padding = min(padding, min(dilation * (k - 1) for k in w.shape[2:]) // 2)
        return transpose(x, w, b, stride, padding, max(stride, dilation) - 1, b.shape[0] // w.shape[1], dilation)

    check_op(op, 3, shapes=transposed_conv_shapes(nd), max_examples=4,
             kwargs=st.fixed_dictionaries({"stride": st.integers(1, 2), "padding": st.integers(0, 1),
                                           "dilation": st.integers(1, 2)}))


def test_grouped_conv_transpose_and_conv3d_gradients():
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2), 3,
             shapes=st.just(((1, 4, 2, 3), (4, 1, 3, 2), (2,))), max_examples=2)
    check_op(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1, dilation=(2, 1, 1), groups=2), 3,
             shapes=st.just(((1, 2, 3, 4, 3), (4, 1, 2, 2, 2), (4,))), max_examples=2)


POOLS = [
    ("avg_ceil", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), {}),
    ("avg_exclude_pad", lambda x: F.avg_pool2d(x, (3, 2), stride=2, padding=1, count_include_pad=False), {}),
    ("avg_divisor", lambda x: F.avg_pool2d(x, 2, stride=1, divisor_override=3), {}),
    ("avg_3d", lambda x: F.avg_pool3d(x.unsqueeze(2), (1, 2, 2), padding=(0, 1, 0), ceil_mode=True), {}),
    ("max_dilation", lambda x: F.max_pool2d(x, 2, stride=1, padding=1, dilation=2), {"distinct": True}),
    ("max_ceil", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), {"distinct": True}),
    ("max_3d", lambda x: F.max_pool3d(x.unsqueeze(2), (1, 2, 2)), {"distinct": True}),
    ("adaptive_max", lambda x: F.adaptive_max_pool2d(x, (2, 3)), {"distinct": True}),
    ("adaptive_avg_3d", lambda x: F.adaptive_avg_pool3d(x.unsqueeze(2), (1, 3, 2)), {}),
    ("unpool", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2, output_size=x.shape[2:]),
     {"distinct": True}),
    ("unfold", lambda x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), {}),
    ("fold", lambda x: F.fold(x, (3, 4), 2, stride=(1, 2)), {"shapes": st.just(((2, 8, 4),))}),
    ("interpolate_nearest", lambda x: F.interpolate(x, size=(7, 3)), {}),
    ("interpolate_bilinear", lambda x: F.interpolate(x, scale_factor=(1.7, 0.6), mode="bilinear"), {}),
    ("interpolate_corners", lambda x: F.interpolate(x, size=(6, 5), mode="bilinear", align_corners=True), {}),
    ("interpolate_bicubic", lambda x: F.interpolate(x, size=(5, 7), mode="bicubic"), {}),
    ("interpolate_area", lambda x: F.interpolate(x, size=(2, 3), mode="area"), {}),
    ("pad_reflect", lambda x: F.pad(x, (2, -1, 1, 2), mode="reflect"), {}),
    ("pad_replicate", lambda x: F.pad(x, (3, 1, -1, 2), mode="replicate"), {}),
    ("pad_circular", lambda x: F.pad(x, (1, -2, 2, 1), mode="circular"), {}),
    ("pad_constant_negative", lambda x: F.pad(x, (-1, 2, 1, -2), value=0.5), {}),
]
images = st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(3, 5), st.integers(4, 6)).map(lambda s: (s,))


@pytest.mark.parametrize("name, op, options", POOLS, ids=[case[0] for case in POOLS])
def test_pooling_and_resampling_gradients(name, op, options):
    options = {"shapes": images, **options}
    check_op(op, max_examples=3, **options)


def test_loss_gradients():
    same = broadcastable_shapes(1, min_dims=1).map(lambda s: (s[0], s[0]))
    for reduction in ("mean", "sum", "none"):
        check_op(lambda p, y, reduction=reduction: F.binary_cross_entropy(p, y, reduction=reduction), 2, shapes=same,
                 domain=[(0.05, 0.95), (0, 1)], max_examples=4)
    rows = st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 2)).map(lambda s: (s, s))
    check_op(lambda x, y: F.cross_entropy(x, y.softmax(1), label_smoothing=0.2), 2, shapes=rows, max_examples=4)


# -- compared with PyTorch ------------------------------------------------------------------------------------------
def compare(torch, op, arrays, rtol=1e-10, atol=1e-12):
    """op(F, *tensors) with F each engine's functional module, from the same float64 arrays: forward and gradients."""
    ours = [tg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    expected, got = op(torch.nn.functional, *theirs), op(F, *ours)
    expected, got = (expected if isinstance(expected, tuple) else (expected,)), (got if isinstance(got, tuple)
                                                                                  else (got,))
    for e, g in zip(expected, got, strict=True):
        assert tuple(e.shape) == g.shape and str(e.dtype).removeprefix("torch.") == str(g.dtype)
        np.testing.assert_allclose(g.numpy(), e.detach().numpy(), rtol=rtol, atol=atol)
    if expected[0].requires_grad:
        weights = np.random.default_rng(0).normal(size=got[0].shape)
        (expected[0] * torch.tensor(weights)).sum().backward()
        (got[0] * tg.tensor(weights)).sum().backward()
        for t, o in zip(theirs, ours, strict=True):
            if t.requires_grad:
                np.testing.assert_allclose(np.asarray(o.grad) if o.grad is not None else 0,
                                           t.grad.numpy() if t.grad is not None else 0, rtol=rtol, atol=atol)


rng = np.random.default_rng(5)
IMAGE = rng.normal(size=(2, 3, 7, 6))
SIGNAL = IMAGE[:, :, 0]
VOLUME = rng.normal(size=(1, 2, 4, 5, 3))
AT_KINKS = np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 20.0, -20.0, 0.5])
PARITY = [
    ("elu", lambda F, x: F.elu(x, alpha=0.1), [AT_KINKS]),
    ("celu", lambda F, x: F.celu(x, 2.0), [AT_KINKS]),
    ("selu", lambda F, x: F.selu(x), [AT_KINKS]),
    ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.01), [AT_KINKS]),
    ("hardtanh", lambda F, x: F.hardtanh(x, -1.0, 3.0), [AT_KINKS]),
    ("relu6", lambda F, x: F.relu6(x), [AT_KINKS]),
    ("hardsigmoid", lambda F, x: F.hardsigmoid(x), [AT_KINKS], 1e-7),  # PyTorch's 1/6 is a float32 constant
    ("hardswish", lambda F, x: F.hardswish(x), [AT_KINKS]),
    ("mish", lambda F, x: F.mish(x), [AT_KINKS]),
    ("silu", lambda F, x: F.silu(x), [AT_KINKS]),
    ("logsigmoid", lambda F, x: F.logsigmoid(x), [AT_KINKS]),
    ("softplus", lambda F, x: F.softplus(x, beta=3, threshold=9), [AT_KINKS]),
    ("softsign", lambda F, x: F.softsign(x), [AT_KINKS]),
    ("glu", lambda F, x: F.glu(x, 1), [IMAGE[:, :2]]),
    ("softmin", lambda F, x: F.softmin(x, dim=1), [IMAGE]),
    ("conv_transpose1d", lambda F, x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=1,
                                                              dilation=2), [SIGNAL, rng.normal(size=(3, 2, 4)),
                                                                           rng.normal(size=2)]),
    ("conv_transpose2d", lambda F, x, w: F.conv_transpose2d(x, w, stride=(2, 1), padding=(1, 0), groups=3),
     [IMAGE, rng.normal(size=(3, 2, 3, 2))]),
    ("conv_transpose3d", lambda F, x, w: F.conv_transpose3d(x, w, stride=2),
     [VOLUME, rng.normal(size=(2, 3, 2, 1, 2))]),
    ("conv3d", lambda F, x, w, b: F.conv3d(x, w, b, padding="same", dilation=(1, 2, 1)),
     [VOLUME, rng.normal(size=(4, 2, 3, 2, 3)), rng.normal(size=4)]),
    ("conv2d_unbatched", lambda F, x, w: F.conv2d(x, w, padding=1), [IMAGE[0], rng.normal(size=(2, 3, 3, 3))]),
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x, 3, stride=3, padding=1, ceil_mode=True, count_include_pad=False),
     [IMAGE]),
    ("avg_pool2d_divisor", lambda F, x: F.avg_pool2d(x, (2, 3), padding=1, ceil_mode=True, divisor_override=5),
     [IMAGE]),
    ("avg_pool1d", lambda F, x: F.avg_pool1d(x, 4, stride=2, padding=2, ceil_mode=True), [SIGNAL]),
    ("avg_pool3d", lambda F, x: F.avg_pool3d(x, 2, stride=1, padding=1, count_include_pad=False), [VOLUME]),
    ("max_pool2d", lambda F, x: F.max_pool2d(x, (3, 2), stride=(2, 3), padding=1, dilation=(1, 2), ceil_mode=True,
                                             return_indices=True), [IMAGE]),
    ("max_pool1d", lambda F, x: F.max_pool1d(x, 3, stride=2, padding=1, return_indices=True), [SIGNAL]),
    ("max_pool3d", lambda F, x: F.max_pool3d(x, 2, padding=1, return_indices=True), [VOLUME]),
    ("max_pool2d_int", lambda F, x: F.max_pool2d((x * 10).int(), 2, padding=1), [IMAGE]),
    ("max_unpool2d", lambda F, x: F.max_unpool2d(*F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True), 3,
                                                 stride=2, padding=1, output_size=(7, 6)), [IMAGE]),
    ("max_unpool1d", lambda F, x: F.max_unpool1d(*F.max_pool1d(x, 2, return_indices=True), 2), [SIGNAL]),
    ("adaptive_max_pool2d", lambda F, x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True), [IMAGE]),
    ("adaptive_max_pool1d", lambda F, x: F.adaptive_max_pool1d(x, 4), [SIGNAL]),
    ("adaptive_avg_pool3d", lambda F, x: F.adaptive_avg_pool3d(x, (3, None, 2)), [VOLUME]),
    ("unfold", lambda F, x: F.unfold(x, (2, 3), dilation=(2, 1), padding=(1, 0), stride=2), [IMAGE]),
    ("fold", lambda F, x: F.fold(x, (5, 4), (2, 2), padding=1, stride=(2, 1)), [rng.normal(size=(2, 8, 15))]),
    ("interpolate_nearest", lambda F, x: F.interpolate(x, size=(9, 4)), [IMAGE]),
    ("interpolate_nearest_exact", lambda F, x: F.interpolate(x, scale_factor=1.6, mode="nearest-exact"), [IMAGE]),
    ("interpolate_linear", lambda F, x: F.interpolate(x, scale_factor=2.5, mode="linear"), [SIGNAL]),
    ("interpolate_bilinear", lambda F, x: F.interpolate(x, size=(4, 11), mode="bilinear", align_corners=True),
     [IMAGE]),
    ("interpolate_bicubic", lambda F, x: F.interpolate(x, scale_factor=(0.7, 1.9), mode="bicubic"), [IMAGE]),
    ("interpolate_trilinear", lambda F, x: F.interpolate(x, size=(3, 7, 2), mode="trilinear"), [VOLUME]),
    ("interpolate_area", lambda F, x: F.interpolate(x, size=(3, 4), mode="area"), [IMAGE]),
    ("interpolate_recompute", lambda F, x: F.interpolate(x, scale_factor=1.3, mode="bilinear",
                                                         recompute_scale_factor=True), [IMAGE]),
    ("pad_reflect", lambda F, x: F.pad(x, (2, -1, -3, 4), mode="reflect"), [IMAGE]),
    ("pad_replicate", lambda F, x: F.pad(x, (3, 11, 0, -5), mode="replicate"), [IMAGE]),
    ("pad_circular", lambda F, x: F.pad(x, (1, -2, 2, -1), mode="circular"), [IMAGE]),
    ("pad_reflect_3d", lambda F, x: F.pad(x, (1, 2, 0, 1, 2, 1), mode="reflect"), [VOLUME]),
    ("pad_constant", lambda F, x: F.pad(x, (-1, 2, -3, 4), value=-2.5), [IMAGE]),
    ("binary_cross_entropy", lambda F, p, y, w: F.binary_cross_entropy(p, y, w.detach()),
     [rng.uniform(0, 1, (4, 3)), rng.uniform(0, 1, (4, 3)), rng.uniform(0, 2, 3)]),
    # the target's gradient at p = 0 or 1: PyTorch's is infinite, this engine's that of its clamped forward
    ("binary_cross_entropy_saturated", lambda F, p, y: F.binary_cross_entropy(p, y.detach(), reduction="none"),
     [np.array([0.0, 1.0, 1e-30, 0.5]), np.array([1.0, 0.0, 0.3, 0.5])], 1e-8),  # PyTorch's 1e-12 is a float32
    ("cross_entropy_probabilities", lambda F, x, y, w: F.cross_entropy(x, y.softmax(1), w.detach(),
                                                                      label_smoothing=0.3),
     [IMAGE, rng.normal(size=IMAGE.shape), rng.uniform(0, 2, 3)]),
    ("cross_entropy_unbatched", lambda F, x, y: F.cross_entropy(x, y.softmax(0), reduction="none"),
     [IMAGE[0, 0, 0], IMAGE[1, 1, 1]]),
]


@pytest.mark.parametrize("name, op, arrays, rtol", [case + (1e-10,) * (4 - len(case)) for case in PARITY],
                         ids=[case[0] for case in PARITY])
def test_matches_pytorch(name, op, arrays, rtol):
    torch = pytest.importorskip("torch")
    compare(torch, op, arrays, rtol=rtol)


MODULES = [  # (PyTorch's constructor call, input): the same text builds both, from the same weights
    ("ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, groups=1, bias=True, dilation=1)", IMAGE),
    ("ConvTranspose1d(3, 2, 2, 2, bias=False)", SIGNAL),
    ("Conv3d(2, 3, (2, 3, 1), stride=(1, 2, 1), padding=1, padding_mode='circular')", VOLUME),
    ("Conv2d(3, 2, 3, padding='same', padding_mode='reflect')", IMAGE),
    ("Conv1d(3, 3, 3, padding=2, padding_mode='replicate', groups=3)", SIGNAL),
    ("MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", IMAGE),
    ("MaxPool1d(2, return_indices=True)", SIGNAL),
    ("AvgPool2d(2, stride=1, padding=1, count_include_pad=False)", IMAGE),
    ("AvgPool1d(3, ceil_mode=True)", SIGNAL),
    ("AvgPool3d(2, padding=1, divisor_override=2)", VOLUME),
    ("AdaptiveAvgPool2d((3, None))", IMAGE),
    ("AdaptiveMaxPool2d(2, return_indices=True)", IMAGE),
    ("AdaptiveMaxPool1d(3)", SIGNAL),
    ("Unfold((2, 2), padding=1, stride=2)", IMAGE),
    ("Upsample(scale_factor=2, mode='bilinear', align_corners=False)", IMAGE),
    ("UpsamplingNearest2d(size=(5, 9))", IMAGE),
    ("UpsamplingBilinear2d(scale_factor=1.5)", IMAGE),
    ("ReflectionPad2d((1, 2, 0, 3))", IMAGE),
    ("ReplicationPad1d(2)", SIGNAL),
    ("CircularPad2d(1)", IMAGE),
    ("ZeroPad2d((1, 0, 2, -1))", IMAGE),
    ("ConstantPad3d(1, 3.5)", VOLUME),
    ("ELU(alpha=0.5)", IMAGE), ("CELU(2.0)", IMAGE), ("SELU()", IMAGE), ("LeakyReLU(0.2, inplace=True)", IMAGE),
    ("Hardtanh(-2.0, 2.0)", IMAGE), ("ReLU6()", IMAGE), ("Hardsigmoid()", IMAGE), ("Hardswish()", IMAGE),
    ("Mish()", IMAGE), ("SiLU(inplace=True)", IMAGE), ("ReLU(inplace=True)", IMAGE), ("LogSigmoid()", IMAGE),
    ("Softsign()", IMAGE), ("Softplus(beta=2.0, threshold=1.0)", IMAGE), ("GLU(dim=-1)", IMAGE),
    ("Softmin(dim=1)", IMAGE),
]


@pytest.mark.parametrize("constructor, x", MODULES, ids=[case[0].split("(")[0] + str(k) for k, case in
                                                        enumerate(MODULES)])
def test_modules_match_pytorch(constructor, x):
    torch = pytest.importorskip("torch")
    theirs = eval("torch.nn." + constructor).double()  # noqa: S307 - the constructor texts above
    ours = eval("nn." + (constructor[:-1] + ", dtype=np.float64)" if constructor.startswith("Conv")
                         else constructor))  # noqa: S307
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours).split("(")[0] == repr(theirs).split("(")[0]
    # on `t * 1`: PyTorch refuses inplace=True on a leaf that requires grad; its hardsigmoid's 1/6 is a float32 constant
    compare(torch, lambda F, t: (theirs if F is torch.nn.functional else ours)(t * 1), [x],
            rtol=1e-7 if constructor.startswith("Hardsigmoid") else 1e-10)


def test_conv_transpose_output_size_and_bce_module():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=3).double()
    ours = nn.ConvTranspose2d(3, 2, 3, stride=3, dtype=np.float64)
    ours.load_state_dict(theirs.state_dict())
    compare(torch, lambda F, t: (theirs if F is torch.nn.functional else ours)(t, output_size=(2, 2, 22, 19)),
            [IMAGE])
    with pytest.raises(ValueError, match="valid sizes range from 18 to 20"):
        ours(tg.tensor(IMAGE), output_size=(22, 22))
    p, y = rng.uniform(0.1, 0.9, (5, 2)), rng.uniform(0, 1, (5, 2))
    compare(torch, lambda F, a, b: (torch.nn.BCELoss if F is torch.nn.functional else nn.BCELoss)(
        reduction="sum")(a, b), [p, y])


def test_interpolate_uint8_matches_pytorch_exactly():
    """PyTorch's uint8 images go through integer weights rounded after each axis; nearest stays a gather."""
    torch = pytest.importorskip("torch")
    image = rng.integers(0, 256, (2, 3, 11, 13)).astype(np.uint8)
    for mode, size in (("bilinear", (5, 20)), ("bicubic", (17, 6)), ("nearest", (7, 7)), ("nearest-exact", (4, 25))):
        expected = torch.nn.functional.interpolate(torch.tensor(image), size=size, mode=mode).numpy()
        np.testing.assert_array_equal(F.interpolate(tg.tensor(image), size=size, mode=mode).numpy(), expected)


ERRORS = [
    ("pad_mode", lambda F, x: F.pad(x, (1, 1), mode="typo"), NotImplementedError),
    ("pad_odd", lambda F, x: F.pad(x, (1, 1, 1)), RuntimeError),
    ("pad_too_many", lambda F, x: F.pad(x[0, 0], (0, 0, 0, 0, 1, 0)), RuntimeError),
    ("pad_reflect_too_wide", lambda F, x: F.pad(x, (3, 6), mode="reflect"), RuntimeError),
    ("pad_circular_twice", lambda F, x: F.pad(x, (0, 0, 8, 0), mode="circular"), RuntimeError),
    ("pad_reflect_dims", lambda F, x: F.pad(x[0, 0], (1, 1, 1, 1), mode="reflect"), NotImplementedError),
    ("pad_value_with_mode", lambda F, x: F.pad(x, (1, 1), mode="reflect", value=1.0), RuntimeError),
    ("interpolate_corners", lambda F, x: F.interpolate(x, size=3, mode="nearest", align_corners=True), ValueError),
    ("interpolate_dims", lambda F, x: F.interpolate(x, size=3, mode="linear"), NotImplementedError),
    ("conv_transpose_output_padding", lambda F, x: F.conv_transpose2d(x, x[:, :2, :3, :3], output_padding=1),
     RuntimeError),
    ("max_pool_padding", lambda F, x: F.max_pool2d(x, 3, padding=2), RuntimeError),
    ("max_unpool_output_size", lambda F, x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2,
                                                           output_size=(9, 9)), ValueError),
    ("glu_odd", lambda F, x: F.glu(x, 1), RuntimeError),
    ("bce_range", lambda F, x: F.binary_cross_entropy(x, x.sigmoid()), RuntimeError),
    ("cross_entropy_probability_shape", lambda F, x: F.cross_entropy(x[:, :, 0, 0], x[:, :1, 0, 0]), RuntimeError),
]


@pytest.mark.parametrize("name, op, error", ERRORS, ids=[case[0] for case in ERRORS])
def test_errors_are_pytorchs_classes(name, op, error):
    x = IMAGE * 3
    with pytest.raises(error):
        op(F, tg.tensor(x))
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        op(torch.nn.functional, torch.tensor(x))


def test_the_documented_names_exist():
    """Every name docs/pytorch.md lists for these ops exists here, and (where PyTorch is installed) in PyTorch."""
    text = (Path(__file__).parents[2] / "docs" / "pytorch.md").read_text()
    section = text.split("## Shape, indexing and nn.functional ops")[1].split("What differs")[0]
    lists = section.split("\n\n")[2].split("\n- ")  # the three lists of names; parentheses hold arguments
    bullets = {bullet.removeprefix("- ").split(":")[0]: re.findall(r"`([\w.]+)`", re.sub(r"\([^)]*\)", "",
                                                                                        bullet.split(":", 1)[1]))
               for bullet in lists}
    groups = {"`torch.*` and Tensor methods": lambda lib, name: hasattr(lib.Tensor, name.removeprefix("Tensor."))
              if name.startswith("Tensor.") or name.endswith("_") else hasattr(lib, name),
              "`nn.functional`": lambda lib, name: hasattr(lib.nn.functional, name),
              "`nn`": lambda lib, name: hasattr(lib.nn, name)}
    assert set(bullets) == set(groups) and sum(map(len, bullets.values())) > 100
    libraries = [tg]
    try:
        import torch
        libraries.append(torch)
    except ImportError:
        pass
    for group, names in bullets.items():
        for lib in libraries:
            missing = [name for name in names if not groups[group](lib, name)]
            assert not missing, f"{lib.__name__} lacks {missing} ({group})"
