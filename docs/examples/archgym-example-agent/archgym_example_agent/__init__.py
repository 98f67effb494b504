"""An example third-party archgym agent: ``one-plus-one``, a (1+1)-evolution strategy with the
one-fifth success rule, searching any design space through its unit-hypercube encoding.

* :mod:`archgym_example_agent.plugin` — the entry-point module: the agent's spec, nothing heavy.
* :mod:`archgym_example_agent.es` — the agent, imported only when a run builds it.
"""
