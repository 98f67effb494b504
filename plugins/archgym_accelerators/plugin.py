"""Registers the accelerator envs through the same hook a third-party plugin uses.

Light on purpose: the entry points are strings, so neither SCALE-Sim nor ZigZag is imported
until an env is made.
"""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    # disable_env_checker: the objective kwarg can make the reward a vector, which Gymnasium's
    # passive checker warns about; archgym.check_env checks both forms (tests/test_accelerators.py).
    module = "archgym_accelerators"
    return [
        {
            "id": "archgym/SystolicArray-v0",
            "entry_point": f"{module}.systolic:SystolicArray",
            "disable_env_checker": True,
            "doc": "docs/env-systolic-array.md",
            "eval_cost": "0.1-1 s with tiny_cnn (SCALE-Sim; 15-60 s with resnet20)",
            "extra": "accelerators",
            "requires": ("scalesim",),
        },
        {
            "id": "archgym/ZigZag-v0",
            "entry_point": f"{module}.zigzag_env:ZigZag",
            "disable_env_checker": True,
            "doc": "docs/env-zigzag.md",
            "eval_cost": "0.3-5 s on tpu_like with tiny_cnn (ZigZag; minutes for ONNX models)",
            "extra": "accelerators",
            "requires": ("zigzag",),
        },
    ]
