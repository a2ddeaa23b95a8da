"""Argument checks shared by every public function of :mod:`theory` (one place, one error style).

Each checker validates one argument *before any work* and returns it in canonical form. A bad type
raises :class:`TypeError`, a bad value :class:`ValueError`; both messages name the argument and show
the offending value. Conventions:

* booleans are never numbers; numeric strings (``"1.0"``) are a ``TypeError``; complex input is a
  ``TypeError`` (the imaginary part is never dropped silently);
* numpy scalars (``np.int64(2)``, ``np.float32(0.5)``) are accepted wherever Python numbers are;
* array-likes (lists, tuples, numpy arrays) are accepted wherever arrays are.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["real", "integer", "array", "probability_vector", "symmetric_matrix", "one_of", "cached",
           "writable_directory"]


def _show(x) -> str:
    s = repr(x)
    return s if len(s) <= 80 else s[:77] + "..."


def real(name: str, x, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """``x`` as a Python float, checked to be a real number in ``[low, high]`` (ends open on request).

    Raises:
        TypeError: ``x`` is not a real number (bool, str, complex, None, ...).
        ValueError: ``x`` is NaN, infinite (when ``finite``), or outside the range.
    """
    if isinstance(x, (bool, np.bool_)) or isinstance(x, (str, bytes)) or isinstance(x, complex) \
            or isinstance(x, np.complexfloating) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_show(x)} ({type(x).__name__})")
    v = float(x)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be finite, got {_show(x)}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {_show(x)}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {_show(x)}")
    return v


def integer(name: str, x, *, low: int | None = None, high: int | None = None) -> int:
    """``x`` as a Python int (numpy integers accepted), checked to lie in ``[low, high]``.

    ``high`` doubles as the guard against unbounded work: a function whose cost grows with an argument
    states the largest value it accepts here, so a huge value is refused up front instead of hanging.

    Raises:
        TypeError: ``x`` is not an integer (bool, float, str, ...).
        ValueError: ``x`` is outside the range.
    """
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_show(x)} ({type(x).__name__})")
    v = int(x)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high} (larger values are not supported), got {v}")
    return v


def array(name: str, x, *, ndim: int | Sequence[int] | None = None, shape: Sequence[int | None] | None = None,
          dtype: str = "float", finite: bool = True, min_size: int = 0) -> np.ndarray:
    """``x`` as a numpy array of kind ``dtype`` (``"float"`` -> float64, ``"int"`` -> int64, ``"bool"``).

    ``shape`` may contain ``None`` for free axes. Integers are accepted for float arrays; floats are
    accepted for int arrays only when every entry is integral.

    Raises:
        TypeError: not array-like, complex, strings/objects, or non-integral values for ``"int"``.
        ValueError: wrong rank or shape, too few entries, or NaN/inf entries (when ``finite``).
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array-like of numbers, got {_show(x)}")
    try:
        a = np.asarray(x)
    except Exception as err:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array-like of numbers, got {_show(x)} ({err})") from None
    if a.dtype == object or a.dtype.kind in "USV":
        raise TypeError(f"{name} must be an array of numbers, got dtype {a.dtype} from {_show(x)}")
    if a.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {a.shape}")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if a.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entries, got {a.size}")
    if dtype == "bool":
        if a.dtype.kind != "b":
            raise TypeError(f"{name} must be a boolean array, got dtype {a.dtype}")
        return a
    if dtype == "int":
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                raise TypeError(f"{name} must hold integers, got non-integral values in {_show(x)}")
        elif a.dtype.kind not in "iub":
            raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
        return a.astype(np.int64)
    if dtype != "float":
        raise ValueError(f"dtype must be 'float', 'int' or 'bool', got {dtype!r}")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if finite and a.size and not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name} must be finite, got {a[bad]!r} at index {bad}")
    return a


def probability_vector(name: str, x, *, atol: float = 1e-9) -> np.ndarray:
    """``x`` as a 1-D float array of probabilities (entries in [0, 1] summing to 1 within ``atol``)."""
    p = array(name, x, ndim=1, min_size=1)
    if np.any(p < -atol) or np.any(p > 1 + atol):
        raise ValueError(f"{name} must have entries in [0, 1], got {_show(x)}")
    s = float(p.sum())
    if abs(s - 1.0) > atol * max(1, p.size):
        raise ValueError(f"{name} must sum to 1, got sum {s!r}")
    return np.clip(p, 0.0, 1.0)


def symmetric_matrix(name: str, x, *, rtol: float = 1e-10) -> np.ndarray:
    """``x`` as a square, finite, symmetric float matrix (relative asymmetry at most ``rtol``)."""
    a = array(name, x, ndim=2)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be square, got shape {a.shape}")
    scale = max(float(np.max(np.abs(a))) if a.size else 0.0, 1e-300)
    if a.size and float(np.max(np.abs(a - a.T))) > rtol * scale:
        raise ValueError(f"{name} must be symmetric, got max |A - A^T| = {float(np.max(np.abs(a - a.T))):.3g}")
    return a


def one_of(name: str, x, options: Sequence):
    """``x`` when it is one of ``options`` (compared with ``==``; strings are not coerced)."""
    try:
        ok = x in options
    except TypeError:
        ok = False
    if not ok or (isinstance(x, bool) and not any(o is x for o in options)):
        raise ValueError(f"{name} must be one of {list(options)}, got {_show(x)}")
    return x


def cached(fn):
    """``functools.cache`` for a public function whose arguments are validated in its body.

    A plain cache hashes the arguments *before* the body runs, so an unhashable bad argument (a list where a
    depth is expected) surfaced as ``TypeError: unhashable type: 'list'``, naming neither the argument nor the
    value. This wrapper names it. ``cache_info``/``cache_clear`` are kept.
    """
    inner = functools.cache(fn)
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except TypeError as err:
            if "unhashable" not in str(err):
                raise
            try:
                bound = sig.bind(*args, **kwargs).arguments
            except TypeError:
                raise err from None
            for name, value in bound.items():
                try:
                    hash(value)
                except TypeError:
                    raise TypeError(f"{name} must be a number, string or other hashable value, got {_show(value)} "
                                    f"({type(value).__name__})") from None
            raise

    wrapper.cache_info = inner.cache_info
    wrapper.cache_clear = inner.cache_clear
    return wrapper


def writable_directory(name: str, path):
    """``path`` as a directory the caller can write into, created when missing; checked before any work.

    Used by the command lines (``python -m sims``'s ``--out``, ``python -m proofs``'s ``--markdown``/``--latex``).

    Returns:
        the :class:`pathlib.Path`.

    Raises:
        ValueError: ``path`` is empty, an existing non-directory, not creatable (an impossible path, a parent that
            is a file, no permission) or not writable (tested with a probe file: ``os.access`` says yes to root on a
            read-only directory). The message names ``name`` and the path.
    """
    import pathlib
    import tempfile

    if path is None or str(path).strip() == "":
        raise ValueError(f"{name}: an output directory is required, got {str(path)!r}")
    d = pathlib.Path(path)
    if d.exists() and not d.is_dir():
        raise ValueError(f"{name}: {str(d)!r} exists and is not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{name}: cannot create directory {str(d)!r}: {e.strerror or e}") from None
    try:
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise ValueError(f"{name}: directory {str(d)!r} is not writable: {e.strerror or e}") from None
    return d
