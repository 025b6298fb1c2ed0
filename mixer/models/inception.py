"""An Inception block over 1-D sequences (Szegedy et al. 2015, "Going Deeper with Convolutions",
arXiv:1409.4842), used as a convolutional stem that is then patchified into Mixer tokens, in the
style of the Incept-Mixer of QN-Mixer (Ayad et al. 2024, "QN-Mixer: A Quasi-Newton MLP-Mixer Model
for Sparse-View CT Reconstruction", arXiv:2402.17951).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn


def split_channels(out_channels: int, branches: int = 4) -> tuple[int, ...]:
    """`out_channels` shared as evenly as possible, the remainder going to the first branches."""
    base, extra = divmod(out_channels, branches)
    return tuple(base + (i < extra) for i in range(branches))


class InceptionBlock1D(nn.Module):
    """Four parallel branches over (batch, in_channels, length), concatenated over channels:

        1x1 conv | 1x1 conv -> k=3 conv | 1x1 conv -> k=5 conv | max-pool k=3 stride 1 -> 1x1 conv

    each convolution followed by GELU, every branch keeping the length ("same" padding). Output
    (batch, out_channels, length). `branch_channels` gives the four branch widths (default: out_channels
    split evenly, each >= 1); `reduce_channels` the width of the 1x1 convolutions in front of the k=3
    and k=5 ones (default: the width of the branch they feed).
    """

    def __init__(self, in_channels: int, out_channels: int, branch_channels: Sequence[int] | None = None,
                 reduce_channels: int | None = None, dtype: Any = np.float32):
        if in_channels < 1:
            raise ValueError(f"InceptionBlock1D: in_channels must be >= 1, got {in_channels}")
        widths = tuple(branch_channels) if branch_channels is not None else split_channels(out_channels)
        if len(widths) != 4 or min(widths) < 1 or sum(widths) != out_channels:
            hint = " (out_channels must be >= 4)" if branch_channels is None else ""
            raise ValueError(f"InceptionBlock1D: need four branch widths >= 1 adding up to "
                             f"out_channels={out_channels}, got {widths}{hint}")
        if reduce_channels is not None and reduce_channels < 1:
            raise ValueError(f"InceptionBlock1D: reduce_channels must be >= 1, got {reduce_channels}")
        super().__init__()
        self.in_channels, self.out_channels, self.branch_channels = in_channels, out_channels, widths
        reduce3 = reduce_channels or widths[1]
        reduce5 = reduce_channels or widths[2]
        self.branch1 = nn.Conv1d(in_channels, widths[0], 1, dtype=dtype)
        self.branch3 = nn.ModuleList([nn.Conv1d(in_channels, reduce3, 1, dtype=dtype),
                                      nn.Conv1d(reduce3, widths[1], 3, padding="same", dtype=dtype)])
        self.branch5 = nn.ModuleList([nn.Conv1d(in_channels, reduce5, 1, dtype=dtype),
                                      nn.Conv1d(reduce5, widths[2], 5, padding="same", dtype=dtype)])
        self.pool_projection = nn.Conv1d(in_channels, widths[3], 1, dtype=dtype)

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.branch1.weight.dtype)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"InceptionBlock1D: input of shape {x.shape} must be (batch, {self.in_channels}, length)")
        outputs = [F.gelu(self.branch1(x))]
        for reduce, conv in (self.branch3, self.branch5):
            outputs.append(F.gelu(conv(F.gelu(reduce(x)))))
        outputs.append(F.gelu(self.pool_projection(F.max_pool1d(x, 3, stride=1, padding=1))))
        return tg.cat(outputs, dim=1)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, branch_channels={self.branch_channels}"
