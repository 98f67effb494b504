"""ML-system configuration problems (LLM training and serving parallelism) on mlsysim."""
