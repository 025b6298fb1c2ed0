"""Shared by the parity tests of the sequence layers (test_rnn.py, test_transformer.py, test_sequence_models.py):
one module built in both engines from the same state_dict, the same inputs, and every output and gradient
compared. The `torch` fixture they take is in conftest.py."""

import numpy as np

import tinygrad_np as tg

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def torch_dtype(torch, dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def weights_for(shape, seed=1):
    """Fixed upstream gradients: the loss is sum(out * w), so every output element matters with its own weight."""
    return np.cos(np.arange(int(np.prod(shape))) * 0.7 + seed).reshape(shape)


def flatten(outputs):
    """The tensors of a nested tuple of outputs, in order (None left out)."""
    flat = []
    for out in outputs:
        if isinstance(out, (tuple, list)):
            flat.extend(flatten(out))
        elif out is not None:
            flat.append(out)
    return flat


def check_against_torch(torch, make, arrays, call, dtype, tolerance=None):
    """Build `make(engine)` in both engines (PyTorch's state_dict loaded strictly into ours), run
    `call(module, engine, *inputs)` on tensors made from `arrays` (floating ones require grad), back-propagate
    sum(out * w) over every output and compare the outputs and the gradients of every input and parameter."""
    torch.manual_seed(0)
    theirs = make(torch).to(torch_dtype(torch, dtype))
    ours = make(tg).to(dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})

    def inputs(engine, convert):
        return [engine.tensor(convert(a), requires_grad=a.dtype.kind == "f") for a in arrays]

    their_inputs = inputs(torch, lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)
    our_inputs = inputs(tg, lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)
    their_out, our_out = flatten(call(theirs, torch, *their_inputs)), flatten(call(ours, tg, *our_inputs))
    assert len(their_out) == len(our_out)
    sum((t * torch.tensor(weights_for(t.shape, k), dtype=t.dtype)).sum() for k, t in enumerate(their_out)).backward()
    sum((o * weights_for(o.shape, k).astype(dtype)).sum() for k, o in enumerate(our_out)).backward()
    tol = tolerance or TOLERANCE[dtype]
    for t, o in zip(their_out, our_out, strict=True):
        assert o.dtype == dtype and o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    compare_input_grads(their_inputs, our_inputs, tol)
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        their_grad = their_params[name].grad
        if their_grad is None:
            assert p.grad is None or not np.asarray(p.grad).any(), name
            continue
        np.testing.assert_allclose(np.asarray(p.grad), their_grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    return ours, theirs


def check_function_against_torch(torch, fn, arrays, dtype, tolerance=None):
    """`fn(engine, *tensors)` in both engines on tensors made from `arrays` (floating ones require grad): the outputs
    and the gradients of sum(out * w) with respect to every floating input must agree."""
    def inputs(engine):
        return [engine.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=a.dtype.kind == "f")
                for a in arrays]

    their_inputs, our_inputs = inputs(torch), inputs(tg)
    their_out, our_out = flatten([fn(torch, *their_inputs)]), flatten([fn(tg, *our_inputs)])
    sum((t * torch.tensor(weights_for(t.shape, k), dtype=t.dtype)).sum() for k, t in enumerate(their_out)).backward()
    sum((o * weights_for(o.shape, k).astype(dtype)).sum() for k, o in enumerate(our_out)).backward()
    tol = tolerance or TOLERANCE[dtype]
    for t, o in zip(their_out, our_out, strict=True):
        assert o.dtype == dtype and o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    compare_input_grads(their_inputs, our_inputs, tol)


def compare_input_grads(their_inputs, our_inputs, tol):
    """Equal gradients where PyTorch has one; none (or zeros) for an input the outputs do not depend on."""
    for t, o in zip(their_inputs, our_inputs, strict=True):
        if t.grad is None:
            assert o.grad is None or not np.asarray(o.grad).any()
        elif t.requires_grad:
            np.testing.assert_allclose(np.asarray(o.grad), t.grad.numpy(), rtol=tol, atol=tol)
