"""What runs: the numerics every experiment shares.

* :mod:`~sims.substrate.ode`: ODE solving (scipy reference, batched diffrax) and the one sympy -> JAX
  bridge for right-hand sides derived in :mod:`theory`.
* :mod:`~sims.substrate.train`: the one training loop (``lax.scan`` over steps, ``vmap`` over seeds).
* :mod:`~sims.substrate.networks`: deep linear networks, linear autoencoders, NTK-parametrised MLPs.
* :mod:`~sims.substrate.transformer`: the decoder-only transformer (positional schemes, pre/post norm, shared
  layers = universal transformer, trainable identity terms in query-key and value-output, block masks, hooks).
* :mod:`~sims.substrate.sequences`: the batch format of sequence tasks, masked loss, accuracies by length,
  teacher forcing and greedy decoding.
* :mod:`~sims.substrate.kernels`: empirical NTK / NNGP of finite JAX networks.
* :mod:`~sims.substrate.losses`: softmax and StableMax cross-entropy, logit gradients, the OrthoGrad transformation.
* :mod:`~sims.substrate.data`: data generators and the small real data sets.
* :mod:`~sims.substrate.measure`: measurements on recorded trajectories.
"""

# benchmarks: registers the "substrate.fit" benchmark of ``python -m sims bench``
from . import benchmarks, data, kernels, losses, measure, networks, ode, sequences, train, transformer  # noqa: F401
from .kernels import empirical_nngp, empirical_ntk
from .measure import first_crossing
from .ode import ODEError, jepa_mode_trajectories, solve, solve_batch, sympy_rhs
from .sequences import SeqBatch, bucketize, evaluate, greedy_decode, make_batch, make_sequence_batch, sequence_loss
from .train import DivergenceError, TrainResult, fit, fit_reference, minibatches
from .transformer import Transformer, TransformerConfig

__all__ = [
    "data", "kernels", "losses", "measure", "networks", "ode", "sequences", "train", "transformer",
    "empirical_nngp", "empirical_ntk", "first_crossing", "ODEError", "jepa_mode_trajectories", "solve", "solve_batch",
    "sympy_rhs", "DivergenceError", "TrainResult", "fit", "fit_reference", "minibatches", "SeqBatch", "bucketize",
    "evaluate", "greedy_decode", "make_batch", "make_sequence_batch", "sequence_loss", "Transformer", "TransformerConfig",
]
