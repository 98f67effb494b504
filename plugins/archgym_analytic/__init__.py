"""Analytic test problems with known optima: Branin, Hartmann-6, a mixed conditional problem and
DTLZ2. They evaluate in microseconds, so agents and the loop can be tested and compared against
the true optimum (regret) without a simulator."""
