"""The run store: atomic files, pytree <-> ``.npz`` round trip, run metadata.

A run directory (written by :func:`sims.harness.runner.run_experiment`) holds::

    config.json     the experiment name, scale and the Config's fields
    meta.json       library versions, git revision (+ dirty flag), device, seeds, scale, timestamps, status
    results.npz     the experiment's result dict, exactly (see :func:`save_tree`)
    results.json    the same, human-readable (large arrays summarised)
    claims.json     the claims, one record each (id, statement, predicted, measured, tolerance, holds, details)
    figures/        PNG + PDF of every figure
    units/<config-key>/<hash>/seed_<k>.npz   one stored result per (sweep configuration, seed)
    log.txt         what ``ctx.log`` said

Every file is written atomically: to a temporary file in the same directory, flushed, ``fsync``-ed
and moved into place with ``os.replace``, so a crash leaves either the old file or the new one.

Pytrees (nested dicts with ``str``/``int``/``float`` keys, lists and tuples, whose leaves are numpy / JAX arrays,
numpy scalars, Python numbers, strings, ``None``) are stored in one ``.npz``: every array leaf becomes an
entry named by its path joined with ``/`` (``"theory/jepa/w"``), and a JSON description of the tree
(entry ``__tree__``) restores the exact containers and Python scalar types. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import io
import json
import math
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import numpy as np

from .experiment import _jsonable

__all__ = [
    "atomic_writer",
    "atomic_write",
    "write_json",
    "read_json",
    "flatten",
    "unflatten",
    "normalize",
    "save_tree",
    "load_tree",
    "summarize",
    "unit_hash",
    "run_metadata",
    "RunStore",
]

_META_ENTRY = "__meta__"  # provenance of a stored unit (config hash, key, seed)
_TREE_ENTRY = "__tree__"
LIBRARIES = ("numpy", "scipy", "sympy", "jax", "jaxlib", "equinox", "optax", "diffrax", "matplotlib", "dask", "distributed")


# ----------------------------------------------------------------------------------------- atomic files
@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on a clean exit fsync it and ``os.replace`` it onto ``path``.

    Args:
        path: the destination file (its directory is created if missing).
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Raises:
        ValueError: for another ``mode``. On an exception inside the block the temporary file is
        removed and ``path`` is left untouched.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_writer: mode must be 'wb' or 'w', got {mode!r}")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(d: pathlib.Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> pathlib.Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns the path."""
    if not isinstance(data, (bytes, str)):
        raise TypeError(f"atomic_write: data must be bytes or str, got {type(data).__name__}")
    with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return pathlib.Path(path)


_NUMBER_LIST = re.compile(r"\[\s+((?:[-+0-9.eE]+|null|true|false)(?:,\s+(?:[-+0-9.eE]+|null|true|false))*)\s+\]")


def write_json(path: str | os.PathLike, obj: Any) -> pathlib.Path:
    """Write ``obj`` (numbers, arrays, nested containers; non-finite floats become strings) as
    indented standard JSON (lists of numbers on one line), atomically."""
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False)
    text = _NUMBER_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    return atomic_write(path, text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------- pytrees
def _escape(k: str) -> str:
    return k.replace("%", "%25").replace("/", "%2F")


def flatten(tree: Any) -> tuple[dict[str, np.ndarray], Any]:
    """Split a pytree into its array leaves and a JSON-able description of everything else.

    Args:
        tree: nested ``dict`` (keys ``str``, ``int`` or ``float``), ``list``, ``tuple``; leaves numpy / JAX arrays
            (anything with ``__array__``), numpy scalars, ``int``, ``float``, ``complex``, ``bool``,
            ``str``, ``None``.

    Returns:
        ``(arrays, spec)``: ``arrays`` maps ``"a/b/0"``-style paths to numpy arrays; ``spec`` describes the
        containers and holds the Python scalars exactly, so ``unflatten(arrays, spec)`` rebuilds ``tree``
        (JAX arrays come back as numpy arrays).

    Raises:
        TypeError: for an unsupported leaf or key, or an object array (naming its path).
    """
    arrays: dict[str, np.ndarray] = {}

    def name(path: tuple[str, ...]) -> str:
        base = "/".join(_escape(p) for p in path) or "value"
        k, i = base, 1
        while k in arrays or k == _TREE_ENTRY:
            k, i = f"{base}#{i}", i + 1
        return k

    def enc(x: Any, path: tuple[str, ...]) -> Any:
        where = "/".join(path) or "<root>"
        if isinstance(x, Mapping):
            items = []
            for k, v in x.items():
                if isinstance(k, bool) or not isinstance(k, (str, int, float)):
                    raise TypeError(f"flatten: dict keys must be str, int or float, got {k!r} at {where}")
                items.append([k, enc(v, (*path, str(k)))])
            return {"dict": items}
        if isinstance(x, list):
            return {"list": [enc(v, (*path, str(i))) for i, v in enumerate(x)]}
        if isinstance(x, tuple):
            return {"tuple": [enc(v, (*path, str(i))) for i, v in enumerate(x)]}
        if x is None or isinstance(x, (bool, int, str)):
            return {"py": x}
        if isinstance(x, float):
            return {"py": x}  # JSON inside the npz keeps nan/inf (Python's json reads them back)
        if isinstance(x, complex):
            return {"complex": [x.real, x.imag]}
        if isinstance(x, np.generic):
            a = np.asarray(x)
            _check_array(a, where)
            k = name(path)
            arrays[k] = a
            return {"npscalar": k}
        if hasattr(x, "__array__"):
            a = np.asarray(x)
            _check_array(a, where)
            k = name(path)
            arrays[k] = a
            return {"array": k}
        raise TypeError(f"flatten: unsupported leaf of type {type(x).__name__} at {where}")

    spec = enc(tree, ())
    return arrays, spec


def _check_array(a: np.ndarray, where: str) -> None:
    if a.dtype.hasobject:
        raise TypeError(f"flatten: object array at {where} cannot be stored without pickling")


def unflatten(arrays: Mapping[str, np.ndarray], spec: Any) -> Any:
    """Inverse of :func:`flatten`."""

    def dec(s: Any) -> Any:
        (kind, v), = s.items()
        if kind == "dict":
            return {k: dec(c) for k, c in v}
        if kind == "list":
            return [dec(c) for c in v]
        if kind == "tuple":
            return tuple(dec(c) for c in v)
        if kind == "py":
            return v
        if kind == "complex":
            return complex(*v)
        if kind == "npscalar":
            return np.asarray(arrays[v])[()]
        if kind == "array":
            return np.asarray(arrays[v])
        raise ValueError(f"unflatten: unknown node kind {kind!r}")

    return dec(spec)


def normalize(tree: Any) -> Any:
    """``unflatten(*flatten(tree))``: what a stored copy of ``tree`` reads back as (numpy, copied)."""
    arrays, spec = flatten(tree)
    return unflatten({k: np.array(a, copy=True) for k, a in arrays.items()}, spec)


def save_tree(path: str | os.PathLike, tree: Any, *, meta: Mapping[str, Any] | None = None) -> pathlib.Path:
    """Store a pytree in one ``.npz`` (see :func:`flatten`), atomically, without pickling. ``meta`` (JSON) is stored
    beside it (entry ``__meta__``; read back by :func:`load_tree_meta`)."""
    arrays, spec = flatten(tree)
    extra = [] if meta is None else [(_META_ENTRY, np.asarray(json.dumps(dict(meta), sort_keys=True)))]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for k, a in [*arrays.items(), (_TREE_ENTRY, np.asarray(json.dumps(spec))), *extra]:
            with zf.open(k + ".npy", "w", force_zip64=True) as g:
                np.lib.format.write_array(g, np.asarray(a), allow_pickle=False)
    return atomic_write(path, buf.getvalue())


def load_tree(path: str | os.PathLike) -> Any:
    """Read a pytree written by :func:`save_tree`.

    Raises:
        FileNotFoundError: if ``path`` does not exist. ValueError: if it is not such a file (empty included).
    """
    return load_tree_meta(path)[0]


def load_tree_meta(path: str | os.PathLike) -> tuple[Any, dict | None]:
    """``(tree, meta)`` of a file written by :func:`save_tree` (``meta`` is ``None`` when none was stored).

    Raises:
        FileNotFoundError: if ``path`` does not exist. ValueError: if it is not such a file (an empty file included:
        ``np.load`` would raise ``EOFError`` there).
    """
    if os.path.getsize(path) == 0:
        raise ValueError(f"load_tree: {path} is empty (0 bytes)")
    try:
        z = np.load(path, allow_pickle=False)
    except EOFError as e:
        raise ValueError(f"load_tree: {path} is truncated ({e})") from None
    with z:
        if _TREE_ENTRY not in z.files:
            raise ValueError(f"load_tree: {path} has no {_TREE_ENTRY} entry (not written by save_tree)")
        spec = json.loads(str(z[_TREE_ENTRY][()]))
        meta = json.loads(str(z[_META_ENTRY][()])) if _META_ENTRY in z.files else None
        arrays = {k: z[k] for k in z.files if k not in (_TREE_ENTRY, _META_ENTRY)}
    return unflatten(arrays, spec), meta


def summarize(tree: Any, max_size: int = 10_000) -> Any:
    """JSON-able view of a pytree; arrays larger than ``max_size`` elements are summarised by
    shape, dtype, min, max and mean."""

    def go(x):
        if isinstance(x, Mapping):
            return {str(k): go(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [go(v) for v in x]
        if hasattr(x, "__array__") and not isinstance(x, (np.generic,)):
            a = np.asarray(x)
            if a.size > max_size:
                s = {"shape": list(a.shape), "dtype": str(a.dtype)}
                if np.issubdtype(a.dtype, np.number):
                    s.update(min=np.nanmin(a), max=np.nanmax(a), mean=np.nanmean(a))
                return _jsonable(s)
            return _jsonable(a)
        return _jsonable(x)

    return go(tree)


# ----------------------------------------------------------------------------------------- units
def _describe(x: Any) -> Any:
    """A stable, JSON-able description of a configuration (for hashing): containers recursively,
    dataclasses / Configs by type and fields, arrays by dtype, shape and every value, floats exactly."""
    import dataclasses

    if isinstance(x, Mapping):
        return {"dict": sorted([str(k), _describe(v)] for k, v in x.items())}
    if isinstance(x, (list, tuple)):
        return [_describe(v) for v in x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {"type": type(x).__qualname__,
                "fields": {f.name: _describe(getattr(x, f.name)) for f in dataclasses.fields(x)}}
    if isinstance(x, (np.ndarray, np.generic)) or (hasattr(x, "__array__") and hasattr(x, "dtype")):
        a = np.asarray(x)
        return {"dtype": str(a.dtype), "shape": list(a.shape), "values": _describe(a.tolist())}
    if isinstance(x, float):
        return x if math.isfinite(x) else repr(x)
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return repr(x)


def _fn_name(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return f"partial({_fn_name(fn.func)}, {_describe(list(fn.args))}, {_describe(fn.keywords)})"
    mod, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    return f"{mod}.{qual}" if mod and qual else repr(fn)


_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


_FINGERPRINTED = ("theory", "sims")  # top-level packages whose source a unit's results may depend on


def _module_file(name: str) -> pathlib.Path | None:
    """Source file of the package module ``name`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``)."""
    base = _PACKAGE_ROOT.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports_of(path: pathlib.Path, module: str) -> set[str]:
    """Package modules imported by the source file ``path`` of ``module`` (absolute and relative
    imports, at any nesting, read from the syntax tree; ``from x import y`` counts ``x`` and ``x.y``).

    The parse is cached per (file, modification time, size): a sweep asks for the fingerprint of every
    unit and seed, and re-parsing the ~40 files of the import closure each time cost ~1 s per unit."""
    st = path.stat()
    return set(_parsed_imports(str(path), module, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=1024)
def _parsed_imports(path_str: str, module: str, mtime_ns: int, size: int) -> frozenset[str]:
    import ast

    path = pathlib.Path(path_str)
    is_pkg = path.name == "__init__.py"
    parts = module.split(".")
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = parts if is_pkg else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return frozenset(m for m in out if m.split(".")[0] in _FINGERPRINTED)


def _code_files(fn: Any) -> list[pathlib.Path]:
    """The source files a unit's results depend on: the module defining ``fn`` (through partials) and,
    transitively, every module of ``theory`` and ``sims`` it imports (including the parent packages'
    ``__init__``), read from the import statements. The harness (``sims.harness``: how runs are stored
    and reported) is left out: it does not compute results."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    start = getattr(fn, "__module__", "") or ""
    seen: dict[str, pathlib.Path] = {}
    todo = [start] if start.split(".")[0] in _FINGERPRINTED else []
    mod = sys.modules.get(start)
    src = getattr(mod, "__file__", None)
    if src and pathlib.Path(src).suffix == ".py" and not todo:  # a unit defined outside the package
        seen[start] = pathlib.Path(src).resolve()
        todo = sorted(_imports_of(seen[start], start))
    while todo:
        name = todo.pop()
        if name in seen or name.startswith("sims.harness"):
            continue
        path = _module_file(name)
        if path is None:  # an attribute imported from a module, not a module
            continue
        seen[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend(p for p in parents if p not in seen)
        todo.extend(sorted(_imports_of(path, name)))
    return sorted({p.resolve() for p in seen.values()})


def code_fingerprint(fn: Any) -> str:
    """SHA-256 over the contents of :func:`_code_files` of ``fn``: changes when any of that code changes."""
    h = hashlib.sha256()
    for f in _code_files(fn):
        st = f.stat()
        h.update(str(f.relative_to(_PACKAGE_ROOT) if f.is_relative_to(_PACKAGE_ROOT) else f).encode())
        h.update(_file_digest(str(f), st.st_mtime_ns, st.st_size).encode())
    return h.hexdigest()


def unit_hash(fn: Any, key: str, cfg: Any) -> str:
    """Hash of (function name, configuration key, configuration fields, code fingerprint): the directory a
    sweep's per-seed results are stored under, so a changed configuration, function or source file
    (:func:`code_fingerprint`: the function's module and every package module it imports) never reuses them.
    Resuming an interrupted run with the same code still does."""
    blob = json.dumps({"fn": _fn_name(fn), "key": key, "cfg": _describe(cfg), "code": code_fingerprint(fn)},
                      sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", key).strip("._")[:80] or "cfg"


# ----------------------------------------------------------------------------------------- metadata
def _git(*args: str) -> str | None:
    root = _PACKAGE_ROOT
    try:
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def _device() -> dict[str, Any]:
    try:
        import jax

        devs = jax.devices()
        return {"platform": jax.default_backend(), "devices": [str(d) for d in devs],
                "device_kind": devs[0].device_kind if devs else None, "x64": bool(jax.config.jax_enable_x64)}
    except Exception as e:  # noqa: BLE001 - recorded, never fatal
        return {"platform": None, "error": f"{type(e).__name__}: {e}"}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_metadata(**extra: Any) -> dict[str, Any]:
    """Library versions, git revision and dirty flag, device, host, Python; plus ``extra`` fields
    (seeds, scale, timestamps, ...)."""
    rev = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if rev else None  # new, not ignored files count as dirty too
    return {
        **extra,
        "versions": _versions(),
        "git": {"revision": rev, "dirty": bool(status) if status is not None else None},
        "device": _device(),
        "host": platform.node(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "argv": sys.argv,
    }


# ----------------------------------------------------------------------------------------- the store
class RunStore:
    """The files of one run directory (see the module docstring for the layout).

    Args:
        root: the run directory (created on first write).
    """

    def __init__(self, root: str | os.PathLike):
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"RunStore: root must be a path, got {type(root).__name__}")
        self.root = pathlib.Path(root)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    @property
    def figures(self) -> pathlib.Path:
        return self.root / "figures"

    def is_run_dir(self) -> bool:
        """Whether ``root`` looks like a run directory (so it may be cleared by ``fresh=True``)."""
        return any((self.root / n).exists() for n in ("meta.json", "config.json", "units"))

    # json files
    def write_json(self, name: str, obj: Any) -> pathlib.Path:
        return write_json(self.root / name, obj)

    def read_json(self, name: str) -> Any:
        return read_json(self.root / name)

    # results
    def save_results(self, results: Mapping[str, Any]) -> None:
        """``results.npz`` (exact) and ``results.json`` (readable)."""
        if not isinstance(results, Mapping):
            raise TypeError(f"results must be a dict, got {type(results).__name__}")
        save_tree(self.root / "results.npz", dict(results))
        write_json(self.root / "results.json", summarize(results))

    def load_results(self) -> dict[str, Any]:
        return load_tree(self.root / "results.npz")

    # sweep units
    def unit_dir(self, fn: Any, key: str, cfg: Any) -> pathlib.Path:
        return self.root / "units" / _safe(key) / unit_hash(fn, key, cfg)

    def unit_path(self, fn: Any, key: str, cfg: Any, seed: int) -> pathlib.Path:
        return self.unit_dir(fn, key, cfg) / f"seed_{int(seed)}.npz"

    def stored_seeds(self, fn: Any, key: str, cfg: Any, seeds: Sequence[int]) -> list[int]:
        """The seeds among ``seeds`` whose result is already stored."""
        return [s for s in seeds if self.unit_path(fn, key, cfg, s).exists()]

    def save_unit(self, fn: Any, key: str, cfg: Any, seed: int, result: Any) -> pathlib.Path:
        """Store one seed's result; the file records the config hash, key and seed it was computed for."""
        d = self.unit_dir(fn, key, cfg)
        if not (d / "config.json").exists():
            write_json(d / "config.json", {"fn": _fn_name(fn), "key": key, "config": _describe(cfg)})
        meta = {"unit_hash": d.name, "key": key, "seed": int(seed)}
        return save_tree(self.unit_path(fn, key, cfg, seed), result, meta=meta)

    def load_unit(self, fn: Any, key: str, cfg: Any, seed: int) -> Any:
        """One stored seed result, checked against the config hash, key and seed it records.

        Raises:
            ValueError: the file is empty or unreadable, records no provenance (written before units recorded
                it), or was computed for another configuration or seed (e.g. copied over this one). The sweep
                logs the reason and computes the unit again.
        """
        path = self.unit_path(fn, key, cfg, seed)
        tree, meta = load_tree_meta(path)
        want = {"unit_hash": path.parent.name, "key": key, "seed": int(seed)}
        if meta is None:
            raise ValueError(f"{path} records no config hash and seed (written by an older version)")
        got = {k: meta.get(k) for k in want}
        if got != want:
            raise ValueError(f"{path} was computed for {got}, not {want}")
        return tree

    # log
    def log(self, msg: str) -> None:
        """Append a time-stamped line to ``log.txt`` (appends are not atomic; the log is informative)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "log.txt", "a", encoding="utf-8") as f:
            f.write(f"{now()} {msg}\n")
