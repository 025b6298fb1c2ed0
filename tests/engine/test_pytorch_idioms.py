"""Code written purely in PyTorch's idioms runs on the engine with only its import changed.

`experiment(torch)` below is PyTorch code: a small MLP-Mixer with an embedding and a conv, AdamW with parameter
groups and a cosine schedule, cross-entropy with integer labels, gradient clipping, a closure step, evaluation under
no_grad. It is run with `torch = tinygrad_np`, and -- where PyTorch is installed -- with PyTorch itself from the
same weights, in float64: the losses, logits and trained weights must agree to 1e-5 (they agree to ~1e-12).
Without PyTorch the comparison is skipped, never faked.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_np

FEATURES, PATCH, DIM, CLASSES, CATEGORIES, ROWS, STEPS = 12, 3, 8, 3, 5, 64, 40


def data() -> dict[str, np.ndarray]:
    """A learnable problem: the class is the argmax of three sums of features, shifted by the category."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, FEATURES))
    category = rng.integers(0, CATEGORIES, ROWS)
    scores = np.stack([x[:, :4].sum(1), x[:, 4:8].sum(1), x[:, 8:].sum(1)], axis=1) + np.eye(CLASSES)[category % 3]
    return {"x": x, "category": category, "label": scores.argmax(1)}


def build(torch):
    """The model, written as a PyTorch user writes one."""
    nn, F = torch.nn, torch.nn.functional

    class MlpBlock(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.fc1 = nn.Linear(dim, hidden)
            self.fc2 = nn.Linear(hidden, dim)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))

    class MixerBlock(nn.Module):
        def __init__(self, tokens, dim):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.token_mlp = MlpBlock(tokens, 2 * tokens)
            self.norm2 = nn.LayerNorm(dim)
            self.channel_mlp = MlpBlock(dim, 2 * dim)

        def forward(self, x):
            x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
            return x + self.channel_mlp(self.norm2(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(PATCH, DIM)
            self.category = nn.Embedding(CATEGORIES, DIM)
            self.conv = nn.Conv1d(DIM, DIM, 3, padding=1)
            self.blocks = nn.ModuleList([MixerBlock(FEATURES // PATCH, DIM) for _ in range(2)])
            self.norm = nn.LayerNorm(DIM)
            self.head = nn.Linear(DIM, CLASSES)
            self.register_buffer("scale", torch.ones(DIM))

        def forward(self, x, category):
            h = self.embed(x.view(x.size(0), -1, PATCH)) + self.category(category).unsqueeze(1)
            h = h + F.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)
            for block in self.blocks:
                h = block(h)
            pooled = self.norm(h).mean(dim=1) * self.scale
            return self.head(pooled)

    return Net()


def experiment(torch, state: dict[str, np.ndarray] | None = None) -> dict[str, object]:
    """Train for a few steps; returns what the comparison needs (plain numpy / Python values)."""
    F = torch.nn.functional
    torch.manual_seed(0)
    model = build(torch).double()
    if state is not None:  # the only non-idiomatic line: both frameworks start from the same weights
        model.load_state_dict({name: torch.tensor(np.asarray(value)) for name, value in state.items()})
    arrays = data()
    x, category, label = (torch.tensor(arrays[k]) for k in ("x", "category", "label"))
    assert x.dtype == torch.float64 and label.dtype == torch.int64  # a numpy array keeps its dtype

    decay = [p for name, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for name, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=2e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=STEPS)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, category), label, label_smoothing=0.1)
        loss.backward()
        return loss

    losses = []
    model.train()
    for step in range(STEPS):
        if step % 3 == 2:
            loss = optimizer.step(closure)
        else:
            optimizer.zero_grad()
            logits = model(x, category)
            loss = F.cross_entropy(logits, label, label_smoothing=0.1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        scheduler.step()
        losses.append(loss.item())

    model.eval()
    with torch.no_grad():
        logits = model(x, category)
        probabilities = logits.softmax(dim=-1)
        values, predicted = logits.max(dim=1)
        accuracy = (predicted == label).float().mean().item()
        confident = torch.where(values > 0, predicted, torch.full_like(predicted, -1))
        masked = probabilities.masked_fill(probabilities < 0.2, 0.0).sum(dim=-1, keepdim=True)
        spread = torch.cat([probabilities.std(dim=0), probabilities.var(dim=1)])
    return {"losses": losses, "logits": logits.detach().numpy(), "accuracy": accuracy,
            "confident": confident.numpy(), "masked": masked.numpy(), "spread": spread.numpy(),
            "state": {name: value.detach().numpy() if hasattr(value, "detach") else value
                      for name, value in model.state_dict().items()},
            "lr": scheduler.get_last_lr()}


def test_pytorch_idioms_run_on_the_engine_and_learn():
    result = experiment(tinygrad_np)
    assert result["losses"][-1] < 0.7 * result["losses"][0]
    assert result["accuracy"] > 0.8
    assert list(result["state"])[0] == "scale"  # PyTorch's order: own buffers, then the children's tensors


def test_pytorch_idioms_match_pytorch_from_the_same_weights():
    torch = pytest.importorskip("torch")
    tinygrad_np.manual_seed(0)
    initial = build(tinygrad_np).double().state_dict()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: PyTorch's thread pool only adds waiting on a shared machine
    try:
        ours, theirs = experiment(tinygrad_np, initial), experiment(torch, initial)
    finally:
        torch.set_num_threads(threads)
    assert list(ours["state"]) == list(theirs["state"])  # the same state_dict names, in the same order
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-5, atol=1e-5)
    for key in ("logits", "masked", "spread"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-5, err_msg=key)
    np.testing.assert_array_equal(ours["confident"], theirs["confident"])
    np.testing.assert_allclose(ours["lr"], theirs["lr"], rtol=1e-12)
    for name, value in ours["state"].items():
        np.testing.assert_allclose(value, theirs["state"][name], rtol=1e-5, atol=1e-5, err_msg=name)
