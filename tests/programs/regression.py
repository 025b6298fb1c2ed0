"""PyTorch's "Learning PyTorch with Examples": fit a third-order polynomial to sin(x), first with tensors and autograd
updated by hand (`a -= learning_rate * a.grad` under no_grad, `a.grad = None`), then with nn.Sequential and manual
parameter updates through `.data` and `.grad` (`p.data.add_(p.grad, alpha=-lr)`, `p.grad.zero_()`,
`p.grad.norm()`), as older tutorials and the word-language-model example write them."""

import math

import torch

dtype = torch.float
device = torch.device("cpu")


def main(init=None, save_init=None, workdir="."):
    x = torch.linspace(-math.pi, math.pi, 200, device=device, dtype=dtype)
    y = torch.sin(x)

    torch.manual_seed(0)
    a = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    b = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    c = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    d = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    state = {"a": a, "b": b, "c": c, "d": d, "model": model.state_dict()}
    if init is not None:
        saved = torch.load(init, weights_only=True)
        with torch.no_grad():
            for name in "abcd":
                state[name].copy_(saved[name])
        model.load_state_dict(saved["model"])
    if save_init is not None:
        torch.save(state, save_init)

    learning_rate = 1e-6
    losses = []
    for t in range(60):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")

    loss_fn = torch.nn.MSELoss(reduction="sum")
    grad_norms = []
    for t in range(60):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        grad_norms.append(sum(p.grad.norm() ** 2 for p in model.parameters()).sqrt().item())
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-learning_rate)
            p.grad.zero_()
    linear_layer = model[0]
    print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
          f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
    return {"losses": losses, "grad_norms": grad_norms, "coefficients": [v.item() for v in (a, b, c, d)],
            "grads_zeroed": all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in model.parameters())}
