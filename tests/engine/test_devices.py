"""The device questions a training script asks, answered as PyTorch's CPU-only build answers them: `device` objects,
`device=` on the factories, `Tensor.to(...)`, `cuda`, `backends`, `accelerator`, `amp`, `inference_mode`, `compile`,
the float32 matmul precision, `distributed`, `nn.parallel`, `onnx`, and the dtype names. Where PyTorch is installed
the answers are compared with its own (skipped without it)."""

import inspect
import pickle
import warnings

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import factories, nn, optim
from tinygrad_np.device import DeviceUnavailableError

DEVICE_STRINGS = ["cpu", "cpu:0", "cpu:3", "cuda", "cuda:0", "cuda:12", "mps", "meta", "xpu:1", "hip"]
BAD_DEVICE_STRINGS = ["", "foo", "CUDA", "cuda:x", "cuda:-1", "cpu:0:1", " cpu", "cuda:01", "cuda: 1", "gpu:0"]


# -- device objects -----------------------------------------------------------------------------------------------
def test_device_objects_parse_print_and_compare_as_pytorchs():
    torch = pytest.importorskip("torch")
    for text in DEVICE_STRINGS:
        ours, theirs = tg.device(text), torch.device(text)
        assert (ours.type, ours.index, str(ours), repr(ours)) == (theirs.type, theirs.index, str(theirs),
                                                                  repr(theirs)), text
    assert repr(tg.device("cuda", 1)) == repr(torch.device("cuda", 1)) == "device(type='cuda', index=1)"
    assert repr(tg.device(type="cpu")) == repr(torch.device(type="cpu"))
    assert repr(tg.device(tg.device("cuda:2"))) == "device(type='cuda', index=2)"
    for text in BAD_DEVICE_STRINGS:
        with pytest.raises(RuntimeError):
            torch.device(text)
        with pytest.raises(RuntimeError) as error:
            tg.device(text)
        assert "\n" not in str(error.value)
    for args in [("cuda:0", 1), ("cpu", -1)]:
        with pytest.raises(RuntimeError):
            torch.device(*args)
        with pytest.raises(RuntimeError):
            tg.device(*args)
    for args in [(1.5,), (None,), ("cpu", "x")]:
        with pytest.raises(TypeError):
            torch.device(*args)
        with pytest.raises(TypeError):
            tg.device(*args)
    with pytest.raises(RuntimeError):  # an integer names an accelerator: none here, none on PyTorch's CPU build
        torch.device(0)
    with pytest.raises(RuntimeError, match="CPU only"):
        tg.device(0)
    # equality as PyTorch: between devices by type and index, never with a string
    assert (tg.device("cpu") == tg.device("cpu")) and (tg.device("cpu") != tg.device("cpu:0"))
    assert (tg.device("cpu") == "cpu") is (torch.device("cpu") == "cpu") is False
    assert hash(tg.device("cuda:1")) == hash(tg.device("cuda", 1)) and len({tg.device("cpu"), tg.device("cpu")}) == 1
    assert pickle.loads(pickle.dumps(tg.device("cuda:3"))) == tg.device("cuda:3")
    with pytest.raises(AttributeError):
        tg.device("cpu").type = "cuda"


def test_a_tensors_device_is_the_cpu():
    x = tg.ones(2)
    assert x.device == tg.device("cpu") and x.device.type == "cpu" and str(x.device) == "cpu" and x.device.index is None
    assert x.is_cuda is False and x.cpu() is x
    with tg.device("cpu"):
        assert tg.zeros(1).device.type == "cpu"
    with pytest.raises(DeviceUnavailableError, match="CPU only"):
        with tg.device("cuda"):
            pass


# -- device= on every factory -------------------------------------------------------------------------------------
FACTORY_CALLS = {
    "tensor": lambda d: tg.tensor([1.0, 2.0], device=d),
    "as_tensor": lambda d: tg.as_tensor(np.ones(2), device=d),
    "zeros": lambda d: tg.zeros(2, device=d),
    "ones": lambda d: tg.ones(2, device=d),
    "empty": lambda d: tg.empty(2, device=d),
    "full": lambda d: tg.full((2,), 3.0, device=d),
    "zeros_like": lambda d: tg.zeros_like(tg.ones(2), device=d),
    "ones_like": lambda d: tg.ones_like(tg.ones(2), device=d),
    "empty_like": lambda d: tg.empty_like(tg.ones(2), device=d),
    "full_like": lambda d: tg.full_like(tg.ones(2), 5, device=d),
    "arange": lambda d: tg.arange(3, device=d),
    "linspace": lambda d: tg.linspace(0, 1, 3, device=d),
    "eye": lambda d: tg.eye(2, device=d),
    "rand": lambda d: tg.rand(2, device=d),
    "randn": lambda d: tg.randn(2, device=d),
    "randint": lambda d: tg.randint(0, 5, (2,), device=d),
    "randperm": lambda d: tg.randperm(3, device=d),
    "rand_like": lambda d: tg.rand_like(tg.ones(2), device=d),
    "randn_like": lambda d: tg.randn_like(tg.ones(2), device=d),
    "randint_like": lambda d: tg.randint_like(tg.ones(2), 5, device=d),
}


def test_every_factory_takes_device_accepts_the_cpu_and_refuses_other_devices_in_one_line():
    with_device = {name for name, fn in inspect.getmembers(factories, inspect.isfunction)
                   if fn.__module__ == factories.__name__ and not name.startswith("_")
                   and "device" in inspect.signature(fn).parameters}
    assert with_device == set(FACTORY_CALLS)  # a new factory must take device= and be listed here
    for name, call in FACTORY_CALLS.items():
        for accepted in (None, "cpu", "cpu:0", tg.device("cpu")):
            assert call(accepted).device.type == "cpu", name
        for refused in ("cuda", "cuda:1", "mps", tg.device("cuda", 0)):
            with pytest.raises(DeviceUnavailableError) as error:
                call(refused)
            message = str(error.value)
            assert "CPU only" in message and name in message and "\n" not in message, message
            assert isinstance(error.value, RuntimeError) and isinstance(error.value, AssertionError)
        with pytest.raises(RuntimeError, match="Expected one of"):
            call("gpu")


def test_factories_refuse_cuda_where_pytorchs_cpu_build_does():
    torch = pytest.importorskip("torch")
    for call in (lambda m: m.zeros(2, device="cuda"), lambda m: m.randn(2, device="cuda"),
                 lambda m: m.ones(1).to("cuda"), lambda m: m.ones(1).cuda()):
        with pytest.raises(AssertionError):
            call(torch)
        with pytest.raises(AssertionError):  # DeviceUnavailableError is an AssertionError, as PyTorch's error
            call(tg)


# -- Tensor.to --------------------------------------------------------------------------------------------------------
def _to_forms(m):
    """(label, args, kwargs) of every `.to` form PyTorch documents, built with module `m`'s names."""
    other = m.zeros(1, dtype=m.int64)
    return [
        ("dtype", (m.float64,), {}), ("same dtype", (m.float32,), {}), ("string device", ("cpu",), {}),
        ("device object", (m.device("cpu"),), {}), ("device and dtype", ("cpu", m.float64), {}),
        ("device object and dtype", (m.device("cpu:0"), m.int32), {}),
        ("keywords", (), {"device": "cpu", "dtype": m.float64}), ("dtype keyword", (), {"dtype": m.float32}),
        ("other tensor", (other,), {}), ("dtype, non_blocking", (m.float64, True), {}),
        ("device, dtype, non_blocking, copy", ("cpu", m.float32, False, True), {}),
        ("copy keyword", ("cpu",), {"copy": True}), ("non_blocking keyword", (m.float32,), {"non_blocking": True}),
        ("nothing", (), {}),
    ]


def test_to_takes_every_pytorch_form_with_pytorchs_dtype_and_identity():
    torch = pytest.importorskip("torch")
    ours_x, theirs_x = tg.tensor([1.5, -2.0]), torch.tensor([1.5, -2.0])
    for (label, ours_args, ours_kwargs), (_, theirs_args, theirs_kwargs) in zip(_to_forms(tg), _to_forms(torch),
                                                                              strict=True):
        ours, theirs = ours_x.to(*ours_args, **ours_kwargs), theirs_x.to(*theirs_args, **theirs_kwargs)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), label
        assert (ours is ours_x) == (theirs is theirs_x), label
        assert ours.tolist() == theirs.tolist(), label


def test_to_with_copy_gives_new_memory_and_a_cast_keeps_the_gradient_path():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    copy = x.to("cpu", copy=True)
    assert copy is not x and not np.shares_memory(copy.numpy(), x.numpy())
    (x.to(tg.float64) * tg.tensor([3.0, 4.0], dtype=tg.float64)).sum().backward()
    assert np.asarray(x.grad).dtype == np.float32 and np.asarray(x.grad).tolist() == [3.0, 4.0]
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(devices="cpu")
    with pytest.raises(DeviceUnavailableError, match="to\\('cuda:1'\\).*CPU only"):
        x.to(device="cuda:1", dtype=tg.float64)


# -- cuda, backends, accelerator ------------------------------------------------------------------------------------
CUDA_ANSWERS = ["is_available", "device_count", "is_initialized", "is_bf16_supported", "get_arch_list",
                "memory_allocated", "max_memory_allocated", "memory_reserved", "empty_cache", "seed", "seed_all"]
CUDA_REFUSALS = ["synchronize", "current_device", "get_device_name", "get_device_capability", "init"]


def test_cuda_answers_as_pytorchs_cpu_build():
    torch = pytest.importorskip("torch")
    for name in CUDA_ANSWERS:
        assert getattr(tg.cuda, name)() == getattr(torch.cuda, name)(), name
    assert tg.cuda.manual_seed(3) is torch.cuda.manual_seed(3) is None
    assert tg.cuda.manual_seed_all(3) is torch.cuda.manual_seed_all(3) is None
    for name in CUDA_REFUSALS:
        with pytest.raises(AssertionError):
            getattr(torch.cuda, name)()
        with pytest.raises(AssertionError, match="CPU only"):
            getattr(tg.cuda, name)()
    with pytest.raises(RuntimeError, match="CPU only"):
        tg.cuda.set_device(0)


def test_cuda_seeding_leaves_the_cpu_generator_alone():
    tg.manual_seed(5)
    expected = tg.rand(3).tolist()
    tg.manual_seed(5)
    tg.cuda.manual_seed_all(99)
    tg.cuda.manual_seed(98)
    assert tg.rand(3).tolist() == expected


def test_backends_answer_and_their_flags_are_settable_as_in_pytorch():
    torch = pytest.importorskip("torch")
    assert tg.backends.cudnn.is_available() is torch.backends.cudnn.is_available() is False
    assert tg.backends.cudnn.version() is torch.backends.cudnn.version() is None
    assert tg.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert tg.backends.mps.is_built() is torch.backends.mps.is_built()
    assert tg.backends.cuda.is_built() is torch.backends.cuda.is_built() is False
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(tg.backends.cudnn, flag) == getattr(torch.backends.cudnn, flag), flag
    for flag in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        assert getattr(tg.backends.cuda.matmul, flag) == getattr(torch.backends.cuda.matmul, flag), flag
    assert tg.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    try:
        for module in (tg, torch):  # allow_tf32 and the matmul precision are one setting, in both
            module.backends.cudnn.benchmark = True
            module.backends.cudnn.deterministic = True
            module.backends.cuda.matmul.allow_tf32 = True
        assert tg.backends.cudnn.benchmark and tg.backends.cudnn.deterministic
        assert tg.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "high"
        for module in (tg, torch):
            module.set_float32_matmul_precision("medium")
        assert tg.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is True
        for module in (tg, torch):
            with pytest.warns(UserWarning):
                module.set_float32_matmul_precision("low")
        assert tg.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "medium"
    finally:
        for module in (tg, torch):
            module.backends.cudnn.benchmark = False
            module.backends.cudnn.deterministic = False
            module.set_float32_matmul_precision("highest")
    assert tg.backends.cuda.matmul.allow_tf32 is False


def test_accelerator_answers_as_pytorchs_cpu_build():
    torch = pytest.importorskip("torch")
    assert tg.accelerator.is_available() is torch.accelerator.is_available() is False
    assert tg.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert tg.accelerator.device_count() == torch.accelerator.device_count() == 0
    for name in ("current_device_index", "synchronize"):
        with pytest.raises(RuntimeError):
            getattr(torch.accelerator, name)()
        with pytest.raises(RuntimeError, match="no accelerator"):
            getattr(tg.accelerator, name)()


def test_the_usual_device_choice_picks_the_cpu():
    device = tg.device("cuda" if tg.cuda.is_available() else "mps" if tg.backends.mps.is_available() else "cpu")
    x = tg.randn(4, 3, device=device)
    assert x.to(device) is x and x.device == device


# -- amp --------------------------------------------------------------------------------------------------------------
def test_autocast_is_a_pass_through_context_and_decorator():
    w = tg.tensor(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    x = tg.tensor(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))
    plain = (x @ w).numpy()
    with tg.autocast(device_type="cpu", dtype=tg.bfloat16):
        inside = x @ w
    assert inside.dtype == np.float32 and np.array_equal(inside.numpy(), plain)
    inside.sum().backward()
    assert np.asarray(w.grad).shape == (3, 4)

    @tg.amp.autocast("cpu")
    def forward(a):
        return a @ w

    assert np.array_equal(forward(x).numpy(), plain)
    with tg.autocast("cpu", enabled=False), tg.amp.autocast("cpu", dtype=tg.float16):
        assert np.array_equal((x @ w).numpy(), plain)


def test_autocast_checks_and_warns_as_pytorchs_cpu_build():
    torch = pytest.importorskip("torch")
    for module in (tg, torch):
        with pytest.raises(RuntimeError):
            module.autocast("foo")
        with pytest.raises(TypeError):
            module.autocast()
        with pytest.warns(UserWarning):  # CUDA asked for and absent: autocast is off
            module.amp.autocast("cuda")
    with pytest.warns(UserWarning, match="CPU only"), tg.cuda.amp.autocast():
        pass


class CountingOptimizer:
    """Stands in for an optimizer: counts step() calls and returns what the closure gives."""

    def __init__(self):
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return None if closure is None else closure()


def test_grad_scaler_is_pytorchs_disabled_scaler():
    torch = pytest.importorskip("torch")
    for module in (tg, torch):
        scaler = module.amp.GradScaler(enabled=False)
        loss = module.ones(2)
        optimizer = CountingOptimizer()
        assert scaler.scale(loss) is loss and scaler.scale(3.0) == 3.0
        assert scaler.unscale_(optimizer) is None and scaler.update() is None and scaler.update(8.0) is None
        assert scaler.step(optimizer) is None and scaler.step(optimizer, lambda: 5.0) == 5.0
        assert optimizer.steps == 2
        assert scaler.get_scale() == 1.0 and scaler.is_enabled() is False and scaler.state_dict() == {}
        assert scaler.load_state_dict({"scale": 2.0}) is None and scaler.get_scale() == 1.0
    for make in (lambda m: m.cuda.amp.GradScaler(), lambda m: m.amp.GradScaler(), lambda m: m.amp.GradScaler("cuda")):
        for module in (tg, torch):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert make(module).is_enabled() is False
            assert any(issubclass(w.category, UserWarning) and "sabl" in str(w.message) for w in caught)


def test_a_training_step_through_the_scaler_equals_one_without_it():
    def train(use_scaler):
        tg.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = optim.SGD(model.parameters(), lr=0.1)
        scaler = tg.amp.GradScaler("cpu", enabled=False)
        x, y = tg.randn(5, 3), tg.randn(5, 2)
        for _ in range(3):
            opt.zero_grad()
            with tg.autocast(device_type="cpu", dtype=tg.bfloat16):
                loss = ((model(x) - y) ** 2).mean()
            if use_scaler:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        return model.weight.numpy().copy()

    assert np.array_equal(train(True), train(False))
    assert not np.array_equal(train(True), nn.Linear(3, 2).weight.numpy())


# -- inference_mode, compile -------------------------------------------------------------------------------------------
def test_inference_mode_as_context_and_decorator_and_its_false_form():
    torch = pytest.importorskip("torch")
    for module in (tg, torch):
        w = module.ones(2, requires_grad=True)
        with module.inference_mode():
            assert not module.is_grad_enabled() and module.is_inference_mode_enabled()
            assert not (w * 2).requires_grad
        assert module.is_grad_enabled() and not module.is_inference_mode_enabled()
        with module.no_grad(), module.inference_mode(False):
            assert module.is_grad_enabled() and not module.is_inference_mode_enabled()
        assert module.is_grad_enabled()

        @module.inference_mode
        def bare(m=module):
            return m.is_grad_enabled()

        @module.inference_mode()
        def called(weight=w):
            return (weight * 2).requires_grad

        assert bare() is False and called() is False and module.is_grad_enabled()
        with module.inference_mode():
            assert called() is False
            assert not module.is_grad_enabled()


def test_compile_returns_what_it_is_given_and_checks_its_options():
    model = nn.Linear(2, 2)
    assert tg.compile(model) is model and tg.compile(model, mode="reduce-overhead", fullgraph=True) is model

    def f(x):
        return x * 2

    assert tg.compile(f, backend="eager", dynamic=True) is f

    @tg.compile
    def g(x):
        return x + 1

    @tg.compile(mode="max-autotune", disable=False)
    def h(x):
        return x - 1

    assert g(1) == 2 and h(1) == 0 and g.__name__ == "g" and h.__name__ == "h"
    with pytest.raises(RuntimeError, match="mode or options"):
        tg.compile(f, mode="default", options={"a": 1})
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        tg.compile(f, mode="fastest")
    with pytest.raises(TypeError, match="callable"):
        tg.compile(3)


# -- distributed, nn.parallel, onnx -----------------------------------------------------------------------------------
def test_distributed_is_unavailable_and_ddp_refuses_in_one_line():
    assert tg.distributed.is_available() is False and tg.distributed.is_initialized() is False
    for call in (lambda: tg.distributed.init_process_group("gloo"),
                 lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2), device_ids=[0])):
        with pytest.raises(RuntimeError) as error:
            call()
        assert "not available" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ValueError, match="not been initialized"):
        tg.distributed.get_rank()


def test_data_parallel_wraps_the_module_as_pytorchs_cpu_build():
    torch = pytest.importorskip("torch")
    ours_inner, theirs_inner = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ours, theirs = nn.DataParallel(ours_inner), torch.nn.DataParallel(theirs_inner)
    assert ours.module is ours_inner and ours.device_ids == theirs.device_ids == []
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["module.weight", "module.bias"]
    x = tg.randn(4, 3)
    assert np.array_equal(ours(x).numpy(), ours_inner(x).numpy())
    assert len(list(ours.parameters())) == 2 and nn.parallel.DataParallel is nn.DataParallel


def test_onnx_imports_and_refuses_export_in_one_line():
    import tinygrad_np.onnx as onnx

    assert onnx.is_in_onnx_export() is False
    with pytest.raises(RuntimeError, match="ONNX") as error:
        onnx.export(nn.Linear(2, 2), tg.ones(1, 2), "model.onnx")
    assert "\n" not in str(error.value)


# -- dtype names -------------------------------------------------------------------------------------------------------
def test_dtype_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    for name in ("float16", "half", "float32", "float", "float64", "double", "int64", "long", "int32", "int",
                 "int16", "short", "int8", "uint8", "bool"):
        ours, theirs = getattr(tg, name), getattr(torch, name)
        assert ours.itemsize == theirs.itemsize, name
        assert (ours.kind == "f") == theirs.is_floating_point, name
        assert tg.zeros(2, dtype=ours).dtype == ours and tg.ones(1).to(ours).dtype == ours, name
        assert str(torch.zeros(1, dtype=theirs).dtype).removeprefix("torch.") in (str(ours), name)


def test_bfloat16_can_be_named_and_says_clearly_that_it_cannot_be_used():
    choices = {"float32": tg.float32, "bfloat16": tg.bfloat16, "float16": tg.float16}  # nanoGPT's table
    assert repr(choices["bfloat16"]) == "bfloat16" and tg.float32 != tg.bfloat16 and tg.zeros(1).dtype != tg.bfloat16
    for use in (lambda: tg.zeros(2, dtype=tg.bfloat16), lambda: tg.ones(2).to(tg.bfloat16),
                lambda: tg.tensor([1.0], dtype=tg.bfloat16), lambda: tg.randn(2, dtype=tg.bfloat16),
                lambda: nn.Linear(2, 2).to(tg.bfloat16)):
        with pytest.raises(TypeError, match="no bfloat16") as error:
            use()
        assert "\n" not in str(error.value)
