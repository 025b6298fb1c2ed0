"""Where PyTorch keeps its collate functions (`torch.utils.data._utils.collate`), for programs that extend them."""

from . import collate

__all__ = ["collate"]
