r"""Symbolic gradient flow of deep linear models, reduced to one mode.

Shared by every deep-linear paper (JEPA vs MAE, linear autoencoders, bottleneck networks).

**Model.** One mode of a deep linear network is a chain of scalar *factors* grouped into *groups*
(e.g. the encoder ``w_1 ... w_L`` and the predictor ``v``). A group enters the loss only through
its product :math:`p_g = \prod_{a} w_{g,a}`. The per-mode loss is a sympy expression
:math:`\ell(p, \tilde p)` of the online products :math:`p_g` and of *stop-gradient* copies
:math:`\tilde p_g = \mathrm{SG}(p_g)`: a target branch that is evaluated with the current weights but
not differentiated.

**Gradient flow.** With a unit learning rate on every factor,

.. math::  \dot w_{g,a} = -\frac{\partial \ell}{\partial w_{g,a}}\Big|_{\tilde p = p}
           = -\frac{\partial \ell}{\partial p_g}\Big|_{\tilde p = p}\ \prod_{b \ne a} w_{g,b}.

**Balanced aligned reduction.** Under balanced aligned initialisation every factor of every group
equals the same scalar :math:`s(t)` and stays so (the flows of all factors coincide, checked
here symbolically). Then :math:`p_g = s^{n_g}` and

.. math::  \dot s = -\frac{\partial \ell}{\partial p_g}\Big|_{p = s^{n},\ \tilde p = p}\ s^{n_g - 1},

the same for every group :math:`g`; and the end-to-end product of group :math:`g` follows
:math:`\dot p_g = n_g\, s^{n_g-1}\dot s` with :math:`s = p_g^{1/n_g}`.

For a concrete depth the module differentiates with respect to each individual factor (the
definition). For a symbolic depth it uses the chain rule above; the two agree (see
``proofs.jepa``). Derivations are cached per model.

References:
    Saxe, McClelland, Ganguli (2014), arXiv:1312.6120; Arora, Cohen, Hazan (2018), arXiv:1802.06509;
    Littwin et al. (2024), arXiv:2407.03475 (the stop-gradient case).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

__all__ = ["ModeModel", "s", "Depth"]

Depth = int | sp.Expr

#: The common per-factor singular value of a balanced aligned mode.
s = sp.Symbol("s", positive=True)

LossFn = Callable[[Mapping[str, sp.Expr], Mapping[str, sp.Expr]], sp.Expr]


def _check_size(name: str, n: Depth) -> None:
    if isinstance(n, bool):
        raise TypeError(f"group size {name!r} must be an int or a sympy symbol, got {n!r}")
    if isinstance(n, int):
        if n < 1:
            raise ValueError(f"group size {name!r} must be >= 1, got {n}")
        return
    if isinstance(n, sp.Expr):
        if n.is_positive is False:
            raise ValueError(f"group size {name!r} must be positive, got {n}")
        return
    raise TypeError(f"group size {name!r} must be an int or a sympy expression, got {type(n).__name__} {n!r}")


class ModeModel:
    """A per-mode scalar deep linear model with optional stop-gradient branches.

    Args:
        loss: ``loss(online, target) -> sympy.Expr``, the per-mode expected loss written in the group
            products ``online[g]`` and their stop-gradient copies ``target[g]``.
        groups: ordered group names (e.g. ``("enc", "pred")``).
        name: label used in error messages.

    Raises:
        ValueError: if ``groups`` is empty or repeats a name.
    """

    def __init__(self, loss: LossFn, groups: tuple[str, ...], *, name: str = "model"):
        if not groups or len(set(groups)) != len(groups):
            raise ValueError(f"groups must be distinct non-empty names, got {groups!r}")
        self.loss_fn = loss
        self.groups = tuple(groups)
        self.name = name
        # product symbols used for the chain-rule derivation
        self.p = {g: sp.Symbol(f"p_{g}", positive=True) for g in groups}
        self.p_sg = {g: sp.Symbol(f"ptilde_{g}", positive=True) for g in groups}
        self._cache: dict = {}

    # ------------------------------------------------------------------ loss
    def product_loss(self) -> sp.Expr:
        """The loss in the product symbols ``p_g`` and stop-gradient copies ``ptilde_g``."""
        return sp.sympify(self.loss_fn(self.p, self.p_sg))

    def factors(self, sizes: Mapping[str, int]) -> dict[str, list[sp.Symbol]]:
        """Concrete factor symbols ``<g>_1 .. <g>_n`` of each group (``<g>`` alone when n = 1)."""
        sizes = self._check_sizes(sizes, concrete=True)
        return {
            g: [sp.Symbol(g, positive=True)] if sizes[g] == 1
            else [sp.Symbol(f"{g}_{a}", positive=True) for a in range(1, sizes[g] + 1)]
            for g in self.groups
        }

    def factor_loss(self, sizes: Mapping[str, int]) -> tuple[sp.Expr, dict, dict]:
        """The loss written in individual factors, with frozen (stop-gradient) copies.

        Returns:
            ``(loss, factors, frozen)``; ``frozen`` maps each factor to its stop-gradient twin.
        """
        fac = self.factors(sizes)
        frozen = {w: sp.Symbol(f"{w.name}^sg", positive=True) for ws in fac.values() for w in ws}
        online = {g: sp.Mul(*fac[g]) for g in self.groups}
        target = {g: sp.Mul(*[frozen[w] for w in fac[g]]) for g in self.groups}
        return sp.sympify(self.loss_fn(online, target)), fac, frozen

    # --------------------------------------------------------------- gradients
    def layer_gradients(self, sizes: Mapping[str, int]) -> dict[sp.Symbol, sp.Expr]:
        """``dl/dw`` for every factor ``w``, differentiating the online branch only (stop-gradient).

        Derived by sympy from the loss for a concrete depth; cached.
        """
        key = ("grad", tuple(sorted(sizes.items())))
        if key not in self._cache:
            loss, fac, frozen = self.factor_loss(sizes)
            unfreeze = {f: w for w, f in frozen.items()}
            self._cache[key] = {
                w: sp.expand(sp.diff(loss, w).subs(unfreeze)) for ws in fac.values() for w in ws
            }
        return self._cache[key]

    def balanced_flow(self, sizes: Mapping[str, Depth]) -> sp.Expr:
        """``ds/dt`` of a balanced aligned mode (every factor equal to :data:`s`).

        For integer sizes: each factor's flow ``-dl/dw`` from :meth:`layer_gradients` at ``w = s``;
        all must coincide, otherwise the balanced reduction does not hold and ``ValueError`` is raised.
        For symbolic sizes: the chain rule ``-dl/dp_g * s^(n_g - 1)`` at ``p = s^n`` (same check).
        """
        sizes = self._check_sizes(sizes, concrete=False)
        key = ("bal", tuple(sorted((k, str(v)) for k, v in sizes.items())))
        if key in self._cache:
            return self._cache[key]
        concrete = all(isinstance(sizes[g], int) for g in self.groups)
        if concrete:
            grads = self.layer_gradients(sizes)
            flows = [sp.expand(-gr.subs({w: s for w in grads})) for gr in grads.values()]
        else:
            flows = [sp.powsimp(sp.expand(f), force=True) for f in self._chain_rule_flows(sizes).values()]
        first = flows[0]
        for f in flows[1:]:
            if sp.simplify(f - first) != 0:
                raise ValueError(
                    f"{self.name}: the factors' flows differ at balance ({first} vs {f}); "
                    "the balanced aligned reduction does not apply"
                )
        out = sp.factor(sp.powsimp(first, force=True))
        self._cache[key] = out
        return out

    def _chain_rule_flows(self, sizes: Mapping[str, Depth]) -> dict[str, sp.Expr]:
        dl = {g: sp.diff(self.product_loss(), self.p[g]) for g in self.groups}
        at = {self.p[g]: s ** sizes[g] for g in self.groups}
        at.update({self.p_sg[g]: s ** sizes[g] for g in self.groups})
        return {g: -dl[g].subs(at) * s ** (sizes[g] - 1) for g in self.groups}

    def chain_rule_flow(self, sizes: Mapping[str, Depth]) -> dict[str, sp.Expr]:
        """Per group, ``-dl/dp_g * s^(n_g - 1)`` at balance: valid for symbolic sizes."""
        sizes = self._check_sizes(sizes, concrete=False)
        return {g: sp.powsimp(sp.expand(f), force=True) for g, f in self._chain_rule_flows(sizes).items()}

    def product_flow(self, group: str, sizes: Mapping[str, Depth], var: sp.Symbol) -> sp.Expr:
        r"""ODE of the product :math:`p_g = s^{n_g}` of one group, written in ``var``.

        :math:`\dot p_g = n_g s^{n_g - 1}\dot s` with :math:`s = p_g^{1/n_g}`.
        """
        if group not in self.groups:
            raise ValueError(f"group must be one of {self.groups}, got {group!r}")
        sizes = self._check_sizes(sizes, concrete=False)
        n = sizes[group]
        sdot = self.balanced_flow(sizes)
        expr = (n * s ** (n - 1) * sdot).subs(s, var ** (sp.Integer(1) / n))
        return sp.expand(sp.powsimp(sp.expand(expr), force=True))

    def free_flow(self, group: str) -> sp.Expr:
        r"""Flow of a single-factor group in terms of the products, off balance: :math:`-\partial\ell/\partial p_g`
        with the stop-gradient copies set equal to the online products."""
        if group not in self.groups:
            raise ValueError(f"group must be one of {self.groups}, got {group!r}")
        at = {self.p_sg[g]: self.p[g] for g in self.groups}
        return sp.expand(-sp.diff(self.product_loss(), self.p[group]).subs(at))

    # ---------------------------------------------------------------- helpers
    def _check_sizes(self, sizes: Mapping[str, Depth], *, concrete: bool) -> dict:
        """``sizes`` checked, as a dict with numpy integers turned into Python ints (they are sizes too)."""
        if not isinstance(sizes, Mapping):
            raise TypeError(f"sizes must be a mapping group -> size, got {sizes!r}")
        sizes = {g: int(n) if isinstance(n, np.integer) and not isinstance(n, np.bool_) else n for g, n in sizes.items()}
        if set(sizes) != set(self.groups):
            raise ValueError(f"sizes must give every group {self.groups}, got {dict(sizes)!r}")
        for g, n in sizes.items():
            _check_size(g, n)
            if concrete and not isinstance(n, int):
                raise ValueError(f"group size {g!r} must be a concrete int here, got {n!r}")
        return sizes
