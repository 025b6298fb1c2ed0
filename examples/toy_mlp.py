"""A 2-layer MLP learns the two-moons problem with `nn` and `optim.Adam`.

Run (after `pip install -e .`): python examples/toy_mlp.py
"""

import numpy as np

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn, optim


def two_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D; label 0 for the upper one, 1 for the lower one."""
    angle = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lower = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    points = np.where(label[:, None] == 0, upper, lower) + rng.normal(scale=noise, size=(n, 2))
    return points.astype(np.float32), label.astype(np.float32)


class MLP(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.hidden = nn.Linear(2, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(F.relu(self.hidden(x)))[:, 0]      # one logit per point


tg.manual_seed(0)                                          # the weights' initialisation
rng = np.random.default_rng(0)
train_x, train_y = two_moons(400, 0.1, rng)
test_x, test_y = two_moons(400, 0.1, rng)

model = MLP(hidden=32)
optimizer = optim.Adam(model.parameters(), lr=0.02)
for step in range(300):
    loss = F.binary_cross_entropy_with_logits(model(tg.tensor(train_x)), tg.tensor(train_y))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 100 == 0:
        print(f"step {step:3d}: loss {loss.item():.4f}")

with tg.no_grad():
    predicted = model(tg.tensor(test_x)) > 0
accuracy = (predicted == tg.tensor(test_y).bool()).float().mean().item()
print(f"test accuracy {accuracy:.3f}")
