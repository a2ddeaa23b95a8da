"""Symbols, closed forms, definitions and exact computations (sympy / numpy / scipy only).

Public modules: :mod:`theory.deeplinear` (symbolic gradient flow of deep linear models, shared),
:mod:`theory.jepa` (JEPA vs MAE, Littwin et al. 2024).
"""
