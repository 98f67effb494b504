"""archgym's accelerator design problems: systolic arrays on SCALE-Sim, DNN accelerators on ZigZag.

Envs (registered by :mod:`archgym_accelerators.plugin`): ``archgym/SystolicArray-v0``
(:mod:`archgym_accelerators.systolic`) and ``archgym/ZigZag-v0``
(:mod:`archgym_accelerators.zigzag_env`). Layer sets: :mod:`archgym_accelerators.workloads`.
"""
