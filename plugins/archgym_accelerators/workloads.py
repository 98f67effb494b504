"""DNN layer sets shared by the accelerator envs, shipped as SCALE-Sim topology CSV files.

A layer set is a CSV in SCALE-Sim's convolution topology format, one layer per row::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
    conv1, 18, 18, 3, 3, 3, 8, 1,

IFMAP sizes include the padding (SCALE-Sim computes the output size as
``ceil((ifmap - filter + stride) / stride)`` without padding); a fully connected layer is a
1×1 convolution on a 1×1 ifmap. The same file feeds SCALE-Sim (``archgym/SystolicArray-v0``)
and is converted to ZigZag's layer description (``archgym/ZigZag-v0``), so both envs see the
same layers. Light on purpose: no simulator is imported here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

__all__ = ["SHIPPED", "Layer", "load_layers", "workload_path"]

SHIPPED: dict[str, str] = {
    "tiny_cnn": "3 conv + 1 FC layers on a 16×16×3 input (276k MACs); the fast default",
    "lenet5": "LeNet-5 (LeCun et al. 1998): C1, C3, C5, F6, F7 on 32×32×1 (416k MACs)",
    "resnet20": "ResNet-20 for CIFAR-10 (He et al. 2016, §4.2): 19 conv + 1 FC layers (40.6M MACs)",
}

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_COLUMNS = ("name", "ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride")


@dataclass(frozen=True)
class Layer:
    """One convolution (or fully connected) layer in SCALE-Sim's terms; sizes include padding."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    filters: int
    stride: int

    @property
    def ofmap_h(self) -> int:
        return math.ceil((self.ifmap_h - self.filter_h + self.stride) / self.stride)

    @property
    def ofmap_w(self) -> int:
        return math.ceil((self.ifmap_w - self.filter_w + self.stride) / self.stride)

    @property
    def macs(self) -> int:
        return self.ofmap_h * self.ofmap_w * self.filter_h * self.filter_w * self.channels * self.filters


def _legal() -> str:
    return ", ".join(repr(n) for n in SHIPPED) + " or a path to a SCALE-Sim conv topology CSV file"


def workload_path(workload: str) -> Path:
    """The CSV file of a shipped layer set (by name) or of a user-supplied topology (by path)."""
    if not isinstance(workload, str | Path):
        raise ValueError(f"workload: {workload!r} is not legal; legal values: {_legal()}")
    if str(workload) in SHIPPED:
        return Path(str(files("archgym_accelerators") / "workloads" / f"{workload}.csv"))
    path = Path(workload)
    if path.suffix.lower() == ".csv" and path.is_file():
        return path
    raise ValueError(f"workload: {str(workload)!r} is not legal; legal values: {_legal()}")


def load_layers(workload: str) -> tuple[Layer, ...]:
    """Parse and validate a layer set; a malformed file is a ``ValueError`` naming ``workload``,
    so it fails at construction rather than as a SCALE-Sim assertion in every evaluation."""
    path = workload_path(workload)
    layers: list[Layer] = []
    lines = [line.strip() for line in path.read_text().splitlines()]
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        if fields and fields[-1] == "":
            fields = fields[:-1]

        def bad(why: str, number: int = number, line: str = line) -> ValueError:
            return ValueError(f"workload {str(workload)!r}: line {number} {line!r}: {why}")

        if len(fields) != len(_COLUMNS):
            raise bad(f"expected {len(_COLUMNS)} fields ({', '.join(_COLUMNS)}), got {len(fields)}")
        name = fields[0]
        if not _NAME.match(name):
            raise bad("layer names may use letters, digits, '_', '.' and '-' only")
        if "DP" in name:
            raise bad("SCALE-Sim treats names containing 'DP' as depthwise layers; not supported here")
        try:
            dims = [int(f) for f in fields[1:]]
        except ValueError:
            raise bad("sizes must be integers") from None
        if min(dims) < 1:
            raise bad("sizes must be >= 1")
        layer = Layer(name, *dims)
        if layer.filter_h > layer.ifmap_h or layer.filter_w > layer.ifmap_w:
            raise bad("the filter is larger than the ifmap")
        layers.append(layer)
    if not layers:
        raise ValueError(f"workload {str(workload)!r}: no layers in {path}")
    names = [layer.name for layer in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"workload {str(workload)!r}: duplicate layer names {duplicates}")
    return tuple(layers)
