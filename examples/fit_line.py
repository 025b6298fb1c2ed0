"""Fit y = 3x + 2 with two raw tensors and hand-written gradient descent (no nn, no optim), PyTorch style.

Run (after `pip install -e .`): python examples/fit_line.py
"""

import numpy as np

import tinygrad_np as tg

rng = np.random.default_rng(0)
x = tg.tensor(rng.uniform(-1, 1, size=100), dtype=tg.float32)
y = 3 * x + 2 + tg.tensor(rng.normal(scale=0.1, size=100), dtype=tg.float32)

slope = tg.zeros(1, requires_grad=True)
intercept = tg.zeros(1, requires_grad=True)
learning_rate = 0.1

for step in range(300):
    prediction = slope * x + intercept
    loss = ((prediction - y) ** 2).mean()
    loss.backward()                             # fills slope.grad and intercept.grad
    with tg.no_grad():                          # the update itself is not part of the graph
        for parameter in (slope, intercept):
            parameter -= learning_rate * parameter.grad
            parameter.grad = None               # gradients accumulate otherwise
    if step % 100 == 0:
        print(f"step {step:3d}: loss {loss.item():.4f}")

print(f"loss {loss.item():.4f}")
print(f"fitted y = {slope.item():.3f} x + {intercept.item():.3f}")
