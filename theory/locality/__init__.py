r"""The globality (locality) barrier and the inductive scratchpad: Abbe, Bengio, Lotfi, Sandon, Saremi, "How Far
Can Transformers Reason? The Globality Barrier and Inductive Scratchpad", NeurIPS 2024, arXiv:2406.06467.

The paper's *distribution locality* (called *globality degree* in arXiv v3) of a task is the least number
of input tokens that, together with the token histogram, have non-negligible (at least :math:`n^{-c}`)
mutual information with the target. It conjectures that a regular Transformer weakly learns a task
efficiently iff its locality is constant, proves hardness for a cycle task, and shows that scratchpads whose
every step has low locality (*autoregressive locality*) break the barrier; the *inductive* scratchpad
(states computed from the question and the previous state only) also generalizes out of distribution and
in length.

REPL API (all exact, numpy/sympy only):

* parity targets (:mod:`~theory.locality.information`): :func:`sparse_parity_mi` (closed form),
  :func:`sparse_parity_mi_brute` (enumeration), :func:`beta_squared_mean` (:math:`=1/\binom Na`),
  :func:`bit_information`, :func:`max_mi_by_size`, :func:`locality`, :func:`exact_locality`,
  :func:`ar_locality`, :func:`cumulative_parity_step_localities`;
* the cycle task (:mod:`~theory.locality.cycles`): :func:`cycle_mi`, :func:`cycle_mi_table`,
  :func:`cycle_mi_exact`, :func:`cycle_observation_counts`, :func:`cycle_mi_two_missing`,
  :func:`dfs_step_localities`, :func:`dfs_witness_information_bound`;
* generators in the official formats (:mod:`~theory.locality.tasks`): :func:`cycle_task`,
  :func:`cycle_task_sample`, :func:`cycles_sample`, :func:`random_graph_sample`, :func:`parity_sample`,
  :func:`addition_random_space_sample`, :func:`addition_shift_sample`, :func:`extract_answer`,
  :func:`reachable`;
* the inductive scratchpad (:mod:`~theory.locality.scratchpad`): :func:`inductive_form_train`,
  :func:`inductive_form_generate`, :func:`inductive_trim`, :func:`attention_from_groups`.

Example::

    from theory import locality as loc
    loc.sparse_parity_mi(6, T=[0, 1, 2], S=[0])     # 0.0897... bits
    loc.beta_squared_mean(8, 4)                     # Fraction(1, 70)
    loc.cycle_mi(4, 5)                              # 0.5714... = 4/7 bits
    loc.locality("half_parity", 40)                 # 18
    loc.inductive_form_train("q1 q2 : a1 b1 # a2 b2 # a3 b3 .".split()).positions
"""

from .cycles import *  # noqa: F401,F403
from .cycles import __all__ as _cycles_all
from .information import *  # noqa: F401,F403
from .information import __all__ as _information_all
from .scratchpad import *  # noqa: F401,F403
from .scratchpad import __all__ as _scratchpad_all
from .tasks import *  # noqa: F401,F403
from .tasks import __all__ as _tasks_all

__all__ = [*_information_all, *_cycles_all, *_tasks_all, *_scratchpad_all]
