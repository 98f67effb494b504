"""NAS-Bench-201's cell space as a live-training archgym env (``archgym/NASBench201-v0``)."""
