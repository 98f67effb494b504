"""Agent-hyperparameter problems: tune multi-objective RL agents (morl-baselines on
MO-Gymnasium, scored by hypervolume) and RL agents (stable-baselines3 on Gymnasium control tasks),
with disjoint tuning and test seeds (Eimer et al., ICML 2023; Felten et al., 2023)."""
