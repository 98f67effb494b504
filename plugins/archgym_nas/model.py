"""The NAS-Bench-201 network in torch, written from the paper's definition (Dong & Yang, 2020).

Macro skeleton: stem (3x3 conv + BN) → N cells at C channels → residual reduction block → N cells
at 2C → residual reduction block → N cells at 4C → BN + ReLU → global average pool → linear.
Imported only when an env trains (torch is heavy).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archgym_nas.cell import EDGES


class ReLUConvBN(nn.Sequential):
    """ReLU → conv (no bias) → BatchNorm: the benchmark's ``nor_conv`` ops and block convs."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def make_op(name: str, channels: int) -> nn.Module:
    """One edge operation; every op keeps the channel count and resolution."""
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"no module for op {name!r}")  # 'none' edges are dropped by Cell


class Cell(nn.Module):
    """Node j = Σ_{i<j} op_{j,i}(node i); output = node 3. ``none`` edges contribute nothing."""

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edges = [(j, i) for (j, i), op in zip(EDGES, ops, strict=True) if op != "none"]
        self.ops = nn.ModuleList(make_op(op, channels) for op in ops if op != "none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for (j, i), op in zip(self.edges, self.ops, strict=True):
            src = nodes[i]
            if src is None:
                continue
            out = op(src)
            nodes[j] = out if nodes[j] is None else nodes[j] + out
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2: two ReLU-conv-BN plus avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Network(nn.Module):
    """The NAS-Bench-201 macro skeleton around one cell repeated ``3 * n_cells`` times."""

    def __init__(
        self, ops: Sequence[str], *, channels: int, n_cells: int, in_channels: int, n_classes: int
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(Cell(ops, c) for _ in range(n_cells))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.cells(self.stem(x))))
