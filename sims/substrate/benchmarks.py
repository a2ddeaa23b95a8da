"""Benchmarks of the substrate (``python -m sims bench --only substrate.fit``): :func:`sims.substrate.train.fit`
against what a user would write without the package.

Deep linear network (``depth`` square layers of ``width``), full-batch squared loss, plain SGD:

* package: ``fit(loss, params, optax.sgd(lr), steps=..., data=batch)`` (one compiled ``lax.scan``);
* fair baseline: a hand-written ``jax.jit`` update step called from a Python loop (the natural JAX loop);
* PyTorch: an ``nn.Linear`` stack with ``optim.SGD`` and a loop over steps, when ``torch`` is importable (it is
  an optional extra; the row is skipped with a message otherwise);
* naive: :func:`sims.substrate.train.fit_reference` (eager, un-jitted JAX, one step at a time).

At width >= 512 the note gives the fraction of the machine's measured float32 matmul rate (a jitted
``(batch, width) x (width, width)`` product timed in the same run) that each loop reaches, counting
``6 * batch * width^2 * depth`` FLOPs per step (forward, and two products per layer backward).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..harness.bench import BenchResult, measure, register_bench
from .train import fit, fit_reference

__all__: list[str] = []


def _loss(p, b):
    h = b[0]
    for w in p:
        h = h @ w
    return 0.5 * jnp.mean(jnp.sum((h - b[1]) ** 2, axis=-1))


def _matmul_peak(batch: int, width: int) -> float:
    """Measured float32 FLOP/s of a jitted (batch, width) x (width, width) product, chained 16 times."""
    x = jnp.ones((batch, width), jnp.float32)
    w = jnp.eye(width, dtype=jnp.float32)

    @jax.jit
    def chain(x):
        return jax.lax.fori_loop(0, 16, lambda i, h: h @ w, x)

    t = measure(lambda: chain(x), repeat=5).median_s
    return 16 * 2 * batch * width * width / t


def _torch_time(params, x, y, lr, steps):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(max(1, torch.get_num_threads()))
    layers = torch.nn.Sequential(*[torch.nn.Linear(w.shape[0], w.shape[1], bias=False) for w in params])
    with torch.no_grad():
        for lay, w in zip(layers, params):
            lay.weight.copy_(torch.from_numpy(np.asarray(w).T.copy()))
    xt, yt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))  # writable copies (JAX arrays are read-only)
    opt = torch.optim.SGD(layers.parameters(), lr=lr)

    def run():
        for _ in range(steps):
            opt.zero_grad()
            loss = 0.5 * ((layers(xt) - yt) ** 2).sum(dim=-1).mean()
            loss.backward()
            opt.step()
        return loss.item()  # one host sync per call, as the package's fit returns its losses

    return measure(run, repeat=3).median_s


def _bench_fit(quick: bool) -> list[BenchResult]:
    width, depth, batch, steps = (256, 2, 256, 20) if quick else (1024, 4, 256, 10)
    lr = 1e-3
    k = jax.random.split(jax.random.PRNGKey(0), depth + 2)
    params = [jax.random.normal(k[i], (width, width), jnp.float32) / np.sqrt(width) for i in range(depth)]
    x = jax.random.normal(k[-2], (batch, width), jnp.float32)
    y = jax.random.normal(k[-1], (batch, width), jnp.float32)
    opt = optax.sgd(lr)

    def package():
        return fit(_loss, params, opt, steps=steps, data=(x, y), record_every=steps).params

    grad = jax.grad(_loss)

    @jax.jit
    def step(p, b):
        return [w - lr * g for w, g in zip(p, grad(p, b))]

    def by_hand():
        p = params
        for _ in range(steps):
            p = step(p, (x, y))
        return p

    cand, base = measure(package), measure(by_hand)
    n_naive = max(1, steps // 5)
    naive = measure(lambda: fit_reference(_loss, params, opt, steps=n_naive, data=(x, y), record_every=n_naive),
                    repeat=3).median_s * steps / n_naive
    flops = 6.0 * batch * width * width * depth * steps
    notes = [f"width {width}, depth {depth}, batch {batch}, {steps} SGD steps, float32; naive: fit_reference "
             f"(eager) over {n_naive} steps, scaled to {steps}"]
    if width >= 512:
        peak = _matmul_peak(batch, width)
        notes.append(f"measured matmul peak {peak / 1e9:.1f} GFLOP/s; package {flops / cand.median_s / peak:.0%} of it, "
                     f"hand-written jit loop {flops / base.median_s / peak:.0%}")
    out = [BenchResult(f"fit, deep linear {width}x{depth}: package vs hand-written jit loop", base.median_s,
                       cand.median_s, 1.0, note="; ".join(notes), naive_s=naive, compile_s=cand.compile_s,
                       baseline=f"jax.jit update step in a Python loop (its compile {base.compile_s:.2f} s)")]
    t_torch = _torch_time(params, x, y, lr, steps)
    if t_torch is None:
        print("bench substrate.fit: torch is not installed; the PyTorch row is skipped "
              "(pip install torch to add it)", flush=True)
    else:
        out.append(BenchResult(f"fit, deep linear {width}x{depth}: package vs PyTorch loop", t_torch, cand.median_s,
                               1.0, compile_s=cand.compile_s, baseline="nn.Linear stack, optim.SGD, loop over steps",
                               note=(f"PyTorch at {flops / t_torch / peak:.0%} of the matmul peak" if width >= 512
                                     else "")))
    return out


register_bench("substrate.fit", _bench_fit)
