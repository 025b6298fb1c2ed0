"""Sharpness-aware minimisation: SAM / ASAM and SparseSAM (its perturbation on a parameter mask).

SAM (Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving Generalization",
arXiv:2010.01412) minimises the loss at the worst point of a small ball around the weights. One
step, given the gradient g at w:

    e(w) = rho * g / ||g||                        (ASAM, adaptive=True: rho * w^2 g / ||w g||)
    w'   = w + e(w);  g' = grad L(w')             (a second forward and backward pass)
    w    = base-optimiser step from w with g'

`SAM.step(closure)` does all of it; `first_step()` / `second_step()` are the same two halves for
users who drive the passes themselves, as in the reference implementations:

    loss_fn(model(x), y).backward()
    opt.first_step(zero_grad=True)
    loss_fn(model(x), y).backward()
    opt.second_step(zero_grad=True)

The wrappers share `param_groups` with their base optimiser, so learning-rate schedulers built on
the wrapper drive the base optimiser; `state_dict()` is the base optimiser's, plus SparseSAM's
masks under "sparse_sam".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import Tensor, enable_grad
from .optimizer import Optimizer

Closure = Callable[[], Any]
NORM_EPS = 1e-12  # added to the gradient norm, as in the reference implementation (davda54/sam)


def as_generator(generator: np.random.Generator | int) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be a numpy Generator or an int seed, got {type(generator).__name__}")


def build_base_optimizer(owner: str, params: Iterable[Any], base_optimizer: Any,
                         base_kwargs: dict[str, Any]) -> Optimizer:
    """The base optimiser of a wrapper: an Optimizer over exactly `params`, or one built by calling
    `base_optimizer(params, **base_kwargs)` (an Optimizer class, as in `SAM(params, optim.SGD, lr=0.1)`)."""
    params = list(params)
    if isinstance(base_optimizer, Optimizer):
        if base_kwargs:
            raise ValueError(f"{owner}: options {sorted(base_kwargs)} are for building the base optimiser, "
                             "but an already built optimiser was given")
        given = {id(p) for item in params for p in (item["params"] if isinstance(item, dict) else [item])}
        held = {id(p) for p in base_optimizer._params()}
        if given != held:
            raise ValueError(f"{owner}: params must be exactly the base optimiser's parameters "
                             f"({len(given)} given, the base optimiser holds {len(held)}, "
                             f"{len(given & held)} in common)")
        return base_optimizer
    if callable(base_optimizer):
        built = base_optimizer(params, **base_kwargs)
        if not isinstance(built, Optimizer):
            raise TypeError(f"{owner}: base_optimizer(params, ...) returned a {type(built).__name__}, "
                            "not an Optimizer")
        return built
    raise TypeError(f"{owner}: base_optimizer must be an Optimizer or an Optimizer class, "
                    f"got {type(base_optimizer).__name__}")


class OptimizerWrapper(Optimizer):
    """An optimiser that runs another one: it shares the base optimiser's parameter groups (so a
    learning-rate scheduler built on the wrapper drives the base) and its per-parameter state."""

    def __init__(self, base_optimizer: Optimizer):
        self.base_optimizer = base_optimizer
        self.param_groups = base_optimizer.param_groups
        self.defaults = base_optimizer.defaults

    @property
    def state(self) -> dict[int, dict[str, Any]]:
        return self.base_optimizer.state

    def state_dict(self) -> dict[str, Any]:
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base_optimizer.load_state_dict(state_dict)


class SAM(OptimizerWrapper):
    """Sharpness-aware minimisation (Foret et al. 2021, arXiv:2010.01412) around any base optimiser.

    `base_optimizer` is an Optimizer over `params`, or an Optimizer class built here with
    `base_kwargs`. `adaptive=True` is ASAM (Kwon et al. 2021, arXiv:2102.11600): the ball is scaled
    by |w|, e(w) = rho w^2 g / ||w g||. `step(closure)` needs the gradients at w already computed;
    the closure must zero the gradients, run forward and backward and return the loss (the loss at
    the perturbed weights is returned). With a zero perturbation (rho = 0) the closure is not called
    and the step is exactly the base optimiser's.
    """

    def __init__(self, params: Iterable[Any], base_optimizer: Any, rho: float = 0.05, adaptive: bool = False,
                 **base_kwargs: Any):
        name = type(self).__name__
        if not (isinstance(rho, (int, float)) and math.isfinite(rho) and rho >= 0):
            raise ValueError(f"{name}: rho must be a finite number >= 0, got {rho!r}")
        super().__init__(build_base_optimizer(name, params, base_optimizer, base_kwargs))
        self.rho, self.adaptive = float(rho), bool(adaptive)
        self._weights_before: dict[int, np.ndarray] = {}

    # -- the two halves ------------------------------------------------------------------
    def grad_norm(self, params: list[Tensor]) -> float:
        """||g|| (||w g|| for ASAM) over all the given parameters together, accumulated in float64."""
        total = 0.0
        for p in params:
            scaled = np.abs(p._data) * p._grad._data if self.adaptive else p._grad._data
            total += float(np.sum(np.square(scaled, dtype=np.float64)))
        return math.sqrt(total)

    def perturbation(self, p: Tensor, scale: float) -> np.ndarray | None:
        """e(w) of one parameter given scale = rho / (||g|| + eps); None for no perturbation."""
        e_w = p._grad._data * p.dtype.type(scale)
        if self.adaptive:
            e_w *= np.square(p._data)
        return e_w

    def prepare_perturbation(self, params: list[Tensor]) -> None:
        """Called by `first_step` before the perturbation, with the gradients at w (a hook)."""

    def first_step(self, zero_grad: bool = False) -> bool:
        """Move every parameter that has a gradient to w + e(w), remembering w. Returns whether
        any parameter moved (False when rho = 0 or, for SparseSAM, when the mask is empty)."""
        params = [p for p in self._params() if p.grad is not None]
        self.prepare_perturbation(params)
        self._weights_before = {}
        if self.rho > 0 and params:
            scale = self.rho / (self.grad_norm(params) + NORM_EPS)
            for p in params:
                e_w = self.perturbation(p, scale)
                if e_w is None:
                    continue
                self._weights_before[id(p)] = p._data.copy()
                p._data += e_w
        if zero_grad:
            self.zero_grad()
        return bool(self._weights_before)

    def second_step(self, zero_grad: bool = False) -> None:
        """Put back the weights `first_step` moved (bit for bit, from a copy) and step the base
        optimiser with the gradients now in `.grad` (those at w + e(w))."""
        for p in self._params():
            before = self._weights_before.pop(id(p), None)
            if before is not None:
                np.copyto(p._data, before)
        self._weights_before = {}
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Closure | None = None) -> Any:
        """One SAM step; the closure re-evaluates the loss and its gradients at the perturbed weights."""
        if closure is None:
            raise ValueError(f"{type(self).__name__}.step needs a closure that zeroes the gradients, runs forward "
                             "and backward and returns the loss; or call first_step() and second_step() yourself")
        if not self.first_step(zero_grad=False):
            self.second_step()
            return None
        self.zero_grad()
        with enable_grad():
            loss = closure()
        self.second_step()
        return loss


MASK_RULES = ("fisher", "dynamic")


class SparseSAM(SAM):
    """Sparse SAM (Mi et al., NeurIPS 2022, "Make Sharpness-Aware Minimization Stronger: A Sparsified
    Perturbation Approach", arXiv:2210.05177): SAM's perturbation e(w) only on a binary mask that
    keeps round((1 - sparsity) * N) of all N parameter entries (one mask over all parameters).

    The norm in e(w) is the full gradient's, as in the reference code, so sparsity = 0 is exactly
    SAM, and sparsity = 1 is exactly the base optimiser (the closure is then never called).

    The mask is refreshed at the first step and then every `update_freq` steps, before the
    perturbation, by one of two rules:

    - "fisher" (SSAM-F): keep the entries with the largest empirical Fisher information, the sum of
      squared gradients over `num_samples` batches (ties: the lower flat index). The batches come
      from `fisher_closure` -- called `num_samples` times at each refresh, each call running forward
      and backward on a fresh batch (the step's own gradients are kept aside meanwhile) -- or, without
      it, from the gradients at w of the last `num_samples` steps up to and including the refresh
      step (at the first step: that step's gradient alone); then num_samples <= update_freq.
    - "dynamic" (SSAM-D): start from a random mask of the target density; at each refresh drop the
      floor(drop_rate_t * live) live entries with the smallest |gradient| and regrow as many chosen
      uniformly among the entries that were not live, so the density never changes. drop_rate_t is
      `drop_rate`, or with `total_steps` the reference's cosine decay
      drop_rate * (1 + cos(pi * min(t / total_steps, 1))) / 2.

    `generator` (a numpy Generator or a seed) draws the dynamic rule's masks; its state, the step
    count, the masks and the accumulated Fisher scores are in `state_dict()["sparse_sam"]`.
    """

    def __init__(self, params: Iterable[Any], base_optimizer: Any, rho: float = 0.05, *, sparsity: float = 0.5,
                 mask_rule: str = "fisher", update_freq: int = 1, num_samples: int = 1,
                 fisher_closure: Closure | None = None, drop_rate: float = 0.5, total_steps: int | None = None,
                 adaptive: bool = False, generator: np.random.Generator | int = 0, **base_kwargs: Any):
        name = type(self).__name__
        if not 0 <= sparsity <= 1:
            raise ValueError(f"{name}: sparsity must be in [0, 1], got {sparsity!r}")
        if mask_rule not in MASK_RULES:
            raise ValueError(f"{name}: mask_rule must be one of {MASK_RULES}, got {mask_rule!r}")
        if not isinstance(update_freq, (int, np.integer)) or update_freq < 1:
            raise ValueError(f"{name}: update_freq must be an int >= 1 (steps), got {update_freq!r}")
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"{name}: num_samples must be an int >= 1, got {num_samples!r}")
        if mask_rule == "fisher" and fisher_closure is None and num_samples > update_freq:
            raise ValueError(f"{name}: without fisher_closure the Fisher scores come from the steps' own gradients, "
                             f"so num_samples ({num_samples}) must be <= update_freq ({update_freq})")
        if fisher_closure is not None and (mask_rule != "fisher" or not callable(fisher_closure)):
            raise ValueError(f"{name}: fisher_closure must be a callable, and only with mask_rule='fisher'")
        if not 0 <= drop_rate <= 1:
            raise ValueError(f"{name}: drop_rate must be in [0, 1], got {drop_rate!r}")
        if total_steps is not None and total_steps <= 0:
            raise ValueError(f"{name}: total_steps must be > 0 (or None for a constant drop rate), got {total_steps!r}")
        super().__init__(params, base_optimizer, rho, adaptive, **base_kwargs)
        self.sparsity, self.mask_rule, self.update_freq = float(sparsity), mask_rule, int(update_freq)
        self.num_samples, self.fisher_closure = int(num_samples), fisher_closure
        self.drop_rate, self.total_steps = float(drop_rate), total_steps
        self.generator = as_generator(generator)
        self.steps = 0
        self.total_entries = sum(p.numel() for p in self._params())
        self.keep_count = round((1 - self.sparsity) * self.total_entries)
        self.masks: dict[int, np.ndarray] = {}
        self.fisher: dict[int, np.ndarray] = {}
        if mask_rule == "dynamic":
            live = np.zeros(self.total_entries, dtype=bool)
            live[self.generator.choice(self.total_entries, self.keep_count, replace=False)] = True
            self._set_masks(live)

    # -- masks ---------------------------------------------------------------------------
    def _set_masks(self, flat: np.ndarray) -> None:
        offset = 0
        for p in self._params():
            self.masks[id(p)] = flat[offset:offset + p.numel()].reshape(p.shape).copy()
            offset += p.numel()

    def _flat_masks(self) -> np.ndarray:
        return np.concatenate([self.masks[id(p)].reshape(-1) for p in self._params()])

    def mask_density(self) -> float:
        """The fraction of parameter entries the perturbation reaches."""
        if not self.masks:
            return 1.0 - self.sparsity
        return float(self._flat_masks().sum()) / max(self.total_entries, 1)

    def drop_rate_at(self, t: int) -> float:
        """SSAM-D's drop rate at step t: constant, or the cosine decay over `total_steps`."""
        if self.total_steps is None:
            return self.drop_rate
        return self.drop_rate * (1 + math.cos(math.pi * min(t / self.total_steps, 1.0))) / 2

    def _accumulate_fisher(self) -> None:
        for p in self._params():
            if p.grad is None:
                continue
            score = self.fisher.get(id(p))
            if score is None:
                score = self.fisher[id(p)] = np.zeros(p.shape, dtype=p.dtype)
            score += np.square(p._grad._data)

    def _fisher_from_closure(self) -> None:
        # copies: a backward writes a Parameter's gradient into the array its optimiser keeps for it
        grads_at_w = {id(p): None if p.grad is None else p.grad.clone() for p in self._params()}
        try:
            for _ in range(self.num_samples):
                self.zero_grad()
                with enable_grad():
                    self.fisher_closure()
                self._accumulate_fisher()
        finally:
            for p in self._params():
                p.grad = grads_at_w[id(p)]

    def _fisher_mask(self) -> None:
        scores = np.concatenate([self.fisher[id(p)].reshape(-1).astype(np.float64) if id(p) in self.fisher
                                 else np.zeros(p.numel()) for p in self._params()])
        live = np.zeros(self.total_entries, dtype=bool)
        live[np.argsort(-scores, kind="stable")[:self.keep_count]] = True
        self._set_masks(live)
        self.fisher = {}

    def _dynamic_mask(self) -> None:
        live = self._flat_masks()
        live_index, dead_index = np.flatnonzero(live), np.flatnonzero(~live)
        count = min(math.floor(self.drop_rate_at(self.steps) * live_index.size), dead_index.size)
        if count == 0:
            return
        magnitude = np.concatenate([np.abs(p._grad._data).reshape(-1).astype(np.float64) if p.grad is not None
                                    else np.zeros(p.numel()) for p in self._params()])
        dropped = live_index[np.argsort(magnitude[live_index], kind="stable")[:count]]
        grown = self.generator.choice(dead_index, count, replace=False)
        live[dropped] = False
        live[grown] = True
        self._set_masks(live)

    def prepare_perturbation(self, params: list[Tensor]) -> None:
        """Refresh the mask when this step is a refresh step (and collect this step's Fisher scores)."""
        position = self.steps % self.update_freq
        if self.mask_rule == "fisher":
            if self.fisher_closure is None:
                if position == 0 or self.update_freq - position < self.num_samples:
                    self._accumulate_fisher()
                if position == 0:
                    self._fisher_mask()
            elif position == 0:
                self._fisher_from_closure()
                self._fisher_mask()
        elif position == 0 and self.steps > 0:
            self._dynamic_mask()
        self.steps += 1

    def perturbation(self, p: Tensor, scale: float) -> np.ndarray | None:
        mask = self.masks[id(p)]
        if not mask.any():
            return None
        e_w = super().perturbation(p, scale)
        e_w *= mask
        return e_w

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The base optimiser's state plus {"sparse_sam": step count, masks, Fisher scores, generator}."""
        index = {id(p): i for i, p in enumerate(self._params())}
        sparse = {"steps": self.steps, "generator": self.generator.bit_generator.state,
                  "masks": {index[key]: mask.copy() for key, mask in self.masks.items()},
                  "fisher": {index[key]: score.copy() for key, score in self.fisher.items()}}
        return {**self.base_optimizer.state_dict(), "sparse_sam": sparse}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "sparse_sam" not in state_dict:
            raise ValueError("SparseSAM.load_state_dict: no 'sparse_sam' entry (masks, step count); "
                             "this state was not saved by SparseSAM")
        sparse = state_dict["sparse_sam"]
        params = self._params()
        masks, fisher = {}, {}
        for name, saved, dtype in (("masks", masks, bool), ("fisher", fisher, None)):
            for key, value in sparse[name].items():
                i = int(key)
                if not 0 <= i < len(params) or np.shape(value) != params[i].shape:
                    raise ValueError(f"SparseSAM.load_state_dict: {name} entry {key} of shape {np.shape(value)} "
                                     f"does not fit the parameters")
                saved[id(params[i])] = np.array(value, dtype=dtype or params[i].dtype)
        self.base_optimizer.load_state_dict(state_dict)
        self.steps, self.masks, self.fisher = int(sparse["steps"]), masks, fisher
        self.generator.bit_generator.state = sparse["generator"]
