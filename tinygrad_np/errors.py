"""The exception classes of the engine: PyTorch's classes, and ValueError too.

PyTorch raises `RuntimeError` for shapes that do not fit, `IndexError` for a dim or index out of range and
`TypeError` for an argument of the wrong kind. The engine raises the same classes, so code written for PyTorch
catches them; each also derives from `ValueError`, which the engine raised for all three before, so existing callers
keep working.
"""


class ShapeError(RuntimeError, ValueError):
    """Shapes that do not fit the op (PyTorch: RuntimeError)."""


class UnsupportedDtype(NotImplementedError, TypeError):
    """An op that has no kernel for the tensor's dtype (PyTorch: NotImplementedError, "... not implemented for
    'Float'", a RuntimeError); also a TypeError, the class the engine raised for it before."""


class IndexOutOfRange(IndexError, ValueError):
    """A dim or an index outside the tensor (PyTorch: IndexError)."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of a kind the op does not take (PyTorch: TypeError)."""


class IndexValueError(RuntimeError, IndexError, ValueError):
    """An index value outside its dim where PyTorch raises RuntimeError (gather, scatter, index_add, take_along_dim);
    an IndexError too, which the engine raised for these before."""


class ArgumentValueError(RuntimeError, ValueError):
    """An argument value the op does not take where PyTorch raises RuntimeError (an unknown mode, a k past the end,
    a window larger than its input)."""
