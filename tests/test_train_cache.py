"""fit compiles once per structure: identical calls and calls differing only in values reuse the program.

Compilations are counted with jax.monitoring's backend-compile event (sims.harness.compilation), an independent
observer of what XLA did. Results of a reused program are compared with fit_reference (the eager per-step loop,
a second method) at the new values, so a program wrongly reused with stale constants would be caught.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from sims.harness.compilation import CompileStats
from sims.substrate.train import fit, fit_reference, minibatches

X = jax.random.normal(jax.random.PRNGKey(0), (32, 3))
Y = X @ jnp.arange(1.0, 4.0)


def _run(lr, *, steps=30, scale=1.0, **kw):
    # a fresh closure and a fresh optimizer every call, as experiments write them
    def loss(p, b):
        return scale * jnp.mean((b[0] @ p["w"] - b[1]) ** 2)

    return fit(loss, {"w": jnp.zeros(3)}, optax.sgd(lr), steps=steps, data=(X, Y), record_every=10,
               record_fn=lambda p: p["w"], **kw)


def _reference(lr, *, steps=30, scale=1.0):
    return fit_reference(lambda p, b: scale * jnp.mean((b[0] @ p["w"] - b[1]) ** 2), {"w": jnp.zeros(3)},
                         optax.sgd(lr), steps=steps, data=(X, Y), record_every=10, record_fn=lambda p: p["w"])


def test_identical_and_value_only_calls_do_not_recompile():
    _run(0.05)
    with CompileStats() as same:
        a = _run(0.05)
    with CompileStats() as other:
        b = _run(0.02, scale=2.0)  # a learning rate and a closure float: arguments, not constants
    assert same.result["compiles"] == 0
    assert other.result["compiles"] == 0
    # float32 training; the eager loop runs the same ops un-fused: agreement to a few float32 ulps
    for res, ref in ((a, _reference(0.05)), (b, _reference(0.02, scale=2.0))):
        assert np.allclose(res.losses, ref.losses, rtol=1e-5, atol=1e-6)
        assert np.allclose(res.records, ref.records, rtol=1e-5, atol=1e-6)


def test_new_shape_compiles_again():
    _run(0.05)
    with CompileStats() as cs:
        _run(0.05, steps=40)  # the scan length is a shape
    assert cs.result["compiles"] >= 1


def test_sampled_and_chunked_runs_reuse_programs():
    def go(lr, **kw):
        return fit(lambda p, b: jnp.mean((b[0] @ p["w"] - b[1]) ** 2), {"w": jnp.zeros(3)}, optax.adam(lr),
                   steps=20, data=minibatches((X, Y), 8), key=jax.random.PRNGKey(3), record_every=5, **kw)

    for kw in ({}, {"chunk": 2}):
        first = go(0.1, **kw)
        with CompileStats() as cs:
            again = go(0.1, **kw)
        assert cs.result["compiles"] == 0
        assert np.array_equal(first.losses, again.losses)  # same program, same inputs: bit for bit


def test_value_needed_as_a_number_falls_back_to_constants():
    def make(thr):
        def loss(p, b):
            if thr > 0.1:  # Python control flow on a closure float: cannot be an argument
                return jnp.mean((b[0] @ p["w"] - b[1]) ** 2)
            return jnp.sum(p["w"] ** 2)
        return loss

    a = fit(make(0.5), {"w": jnp.ones(3)}, optax.sgd(0.01), steps=10, data=(X, Y))
    b = fit(make(0.05), {"w": jnp.ones(3)}, optax.sgd(0.01), steps=10, data=(X, Y))
    # second branch: sum(w^2) under sgd(0.01) decays as (1 - 0.02)^t exactly
    assert np.isclose(b.losses[-1], 3 * 0.98 ** 20, rtol=1e-5)
    assert a.losses[-1] != b.losses[-1]


def test_batched_without_key_names_key():
    with pytest.raises(ValueError, match="key"):
        fit(lambda p, b: jnp.sum(p["w"] ** 2), {"w": jnp.ones((2, 3))}, optax.sgd(0.1), steps=2, data=None,
            batched=True)
