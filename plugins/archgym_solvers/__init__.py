"""Solver-parameter problems: SOR relaxation over a sequence of linear systems, and algebraic
multigrid (pyamg) parameters.

Envs (registered by :mod:`archgym_solvers.plugin`):

* ``archgym/SOR-v0`` — :class:`archgym_solvers.sor.SOR`: the relaxation factor ω of SOR (or of
  SSOR-preconditioned CG) across a sequence of related 2-D diffusion systems, after Khodak et al.,
  "Learning to Relax" (ICLR 2024). See ``docs/env-sor.md``.
* ``archgym/AMG-v0`` — :class:`archgym_solvers.amg.AMG`: a conditional space of pyamg solver
  parameters on a configurable PDE matrix from pyamg's gallery. See ``docs/env-amg.md``.

Importing this package imports neither pyamg nor scipy; the env modules import them when an env
is built.
"""
