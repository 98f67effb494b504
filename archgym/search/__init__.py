"""Floor 2 — the search API: what agents are (ask/tell or interactive), what they see of a
problem, what they are told about an evaluation, and the specs that build them by name.

Agents written against this package need nothing of the loop that drives them.
"""

from archgym.search.agent import Agent, AskTellAdapter, EvalResult, InteractiveAgent, Problem, Proposal
from archgym.search.problem import BudgetExhausted, problem_of
from archgym.search.spec import AgentResolver, AgentSpec

__all__ = [
    "Agent",
    "AgentResolver",
    "AgentSpec",
    "AskTellAdapter",
    "BudgetExhausted",
    "EvalResult",
    "InteractiveAgent",
    "Problem",
    "Proposal",
    "problem_of",
]
