"""Fit y = 3x + 2 with two raw Tensors and hand-written gradient descent (no nn, no optim).

Run (after `pip install -e .`): python examples/fit_line.py
"""

import numpy as np

from tinygrad_np import Tensor

rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, size=100).astype(np.float32)
y = (3 * x + 2 + rng.normal(scale=0.1, size=100)).astype(np.float32)

slope = Tensor([0.0], requires_grad=True)
intercept = Tensor([0.0], requires_grad=True)
learning_rate = 0.1

for step in range(300):
    prediction = slope * x + intercept          # x is a plain ndarray: it becomes a constant
    loss = ((prediction - y) ** 2).mean()
    loss.backward()                             # fills slope.grad and intercept.grad
    for parameter in (slope, intercept):
        parameter.data -= learning_rate * parameter.grad   # update the array: autograd does not see it
        parameter.zero_grad()                   # gradients accumulate otherwise
    if step % 100 == 0:
        print(f"step {step:3d}: loss {loss.item():.4f}")

print(f"loss {loss.item():.4f}")
print(f"fitted y = {slope.item():.3f} x + {intercept.item():.3f}")
