"""Collating samples into a batch, with PyTorch's rules (`default_collate`) and its registry of per-type functions
(`collate`, `default_collate_fn_map`), so a custom collate that extends PyTorch's works here too.

The rules, by the type of the batch's first sample: tensors are stacked along a new first dim (dtypes promoted as
`stack` promotes; samples of different sizes are an error naming the sizes); numpy arrays become tensors of their
dtype and are stacked; numpy scalars become a tensor of their dtype; Python floats a float64 tensor, ints an int64
tensor, bools a bool tensor; strings and bytes stay as they are (the batch's list); mappings, namedtuples, tuples and
lists are collated field by field (a tuple gives a list, as in PyTorch).
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ....engine import Tensor
from ....factories import as_tensor, from_numpy, tensor
from ....functional import stack

np_str_obj_array_pattern = re.compile(r"[SaUO]")  # numpy dtypes of strings and objects: not tensors
default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                                  "found {}")

CollateMap = dict[type | tuple[type, ...], Callable[..., Any]]


def collate(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Any:
    """Collate `batch` (a sequence of samples) by the type of its first sample: the function registered for that
    type in `collate_fn_map` (exact type first, then the first registered base class), else field by field for
    mappings, namedtuples and sequences."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: collate([sample[key] for sample in batch], collate_fn_map=collate_fn_map) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)  # keeps the mapping's own type and attributes
                clone.update(fields)
                return clone
            return elem_type(fields)
        except TypeError:  # a mapping type that cannot be copied or built from a dict
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for i, sample in enumerate(batch):
            if len(sample) != size:
                raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, but "
                                   f"sample 0 has {size} and sample {i} has {len(sample)}")
        transposed = list(zip(*batch, strict=True))
        fields = [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        if isinstance(elem, tuple):
            return fields  # a tuple sample gives a list, as PyTorch's
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, field in enumerate(fields):
                    clone[i] = field
                return clone
            return elem_type(fields)
        except TypeError:  # a sequence type that cannot be copied, assigned or built from a list (e.g. range)
            return fields
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    """Stack along a new first dim."""
    first = batch[0].shape
    for i, sample in enumerate(batch):
        if sample.shape != first:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got {list(first)} "
                               f"at entry 0 and {list(sample.shape)} at entry {i}")
    return stack(list(batch), 0)


def collate_numpy_array_fn(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Any:
    """Arrays become tensors of their dtype, then are collated as tensors (strings and objects are an error)."""
    if np_str_obj_array_pattern.search(batch[0].dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(batch[0].dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    """numpy scalars become one tensor of their (promoted) dtype."""
    return from_numpy(np.asarray(batch))


def collate_float_fn(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return tensor(batch, dtype=np.float64)


def collate_int_fn(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    """int64 (bool for bools, float32 if a float follows an int), as `tensor(batch)` infers."""
    return tensor(batch)


def collate_str_fn(batch: Any, *, collate_fn_map: CollateMap | None = None) -> Any:
    return batch


default_collate_fn_map: CollateMap = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch: Any) -> Any:
    """PyTorch's default collation of a list of samples into a batch (the rules are in this module's docstring)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data: Any) -> Any:
    """What the DataLoader applies to each sample when it does not batch (`batch_size=None`): numpy arrays and
    scalars become tensors (sharing the array's memory), inside mappings, namedtuples and sequences too (a tuple
    gives a list); everything else is left as it is."""
    if isinstance(data, Tensor):
        return data
    if type(data).__module__ == "numpy" and not isinstance(data, (np.str_, np.bytes_)):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(fields)
                return clone
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        fields = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, field in enumerate(fields):
                    clone[i] = field
                return clone
            return type(data)(fields)
        except TypeError:
            return fields
    return data
