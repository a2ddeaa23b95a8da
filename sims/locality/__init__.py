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

**Measured at the default scale** (2 layers, width 32, batch 32, 1400 steps, seed 0; 102 s of CPU time, 183 s
of wall time on the shared 2-core machine): the cycle-task locality is 2, 3, 4, 5, 7, 8, 9 edges for n = 2..8
(threshold n^-2; MI exactly 0 below n edges, 1 bit from 2n - 1); half parity 1, 5, ..., 30 bits for
n = 8..64 (n/2 - 2..3); running-parity steps need <= 1 token, DFS steps <= 2 beyond the histogram. Trained at
n = 2: the inductive scratchpad reaches 95% exact match at step 1200, no scratchpad stays at chance (0.45-0.55)
through 1400 steps, so the exponential fit is not measurable at this scale (one n). Masked generation equals the
trimmed context on the trained model to 1.9e-6 (float32). The OOD split, DFS runs and parity length
generalization run only in the paper preset, which has not been run (no GPU was lent to this task).
"""

from sims.harness import register

from .config import LocalityConfig
from .experiment import LocalityExperiment

register(LocalityExperiment())

__all__ = ["LocalityConfig", "LocalityExperiment"]
