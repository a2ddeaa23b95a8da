r"""Experiment ``locality``: the globality (locality) barrier and the inductive scratchpad (Abbe, Bengio, Lotfi,
Sandon, Saremi, "How Far Can Transformers Reason? The Globality Barrier and Inductive Scratchpad", NeurIPS 2024).

**Exact part** (:mod:`theory.locality`): the mutual information between the cycle-task label and a uniformly
random m of its 2n edges (all subsets enumerated, up to isomorphism of the marked observed subgraph) for
n = 2..8, the locality of full, sparse and half parity (closed form), and the autoregressive locality of the
running-parity and DFS scratchpads (enumeration).

**Trained part** (the substrate transformer, :func:`sims.substrate.train.fit`, seeds vmapped):

* the cycle task in the official token format (``u > v ;`` edges in random order, ``a ? b ;``, answer), fresh
  samples every step, without a scratchpad, with the DFS scratchpad and with the inductive scratchpad (state
  duplication, block mask and re-indexed positions from :func:`theory.locality.inductive_form_train`); steps to
  95% exact match against n, with an exponential fit and a bootstrap CI over seeds;
* the OOD split of the paper at a smaller size of the same shape (train cycles (s, t - s) vs a t-cycle at
  distance s, test (t/2, t/2) vs distance t/2) for DFS and inductive;
* length generalization of inductive parity (trained on single blocks, evaluated on full answers).

Accuracy is the teacher-forced exact match of the whole answer, which equals greedy generation's exact match
(for the inductive scratchpad, masked generation, whose logits equal the trimmed "question + last state" context:
checked on the trained models).
"""

from sims.harness import register

from .config import LocalityConfig
from .experiment import LocalityExperiment

register(LocalityExperiment())

__all__ = ["LocalityConfig", "LocalityExperiment"]
