"""An example third-party archgym plugin: a 0/1 knapsack, twice.

* ``example/Knapsack-v0`` — a plain :class:`gymnasium.Env` with a ``MultiBinary`` action space;
  archgym derives its design space (``a[0]`` … ``a[n-1]``).
* ``example/KnapsackDesign-v0`` — the same problem as an :class:`archgym.DesignEnv`, which
  declares named parameters, metrics and an objective instead.

Importing this package imports nothing heavy; :mod:`archgym_example.plugin` only lists entry
point strings.
"""
