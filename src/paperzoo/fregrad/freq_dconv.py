"""Frequency-aware dilated convolution, Freq-DConv (§3.2, Fig. 3).

Inside every residual block, FreGrad replaces the dilated conv by: split the hidden signal
into its Haar sub-bands, convolve the two bands stacked on the channel axis (so the kernel
sees low and high frequencies side by side), and transform back:

    [B, C, L] --DWT--> low, high [B, C, L/2] --cat--> [B, 2C, L/2]
              --Conv1d(2C -> 2 C_out, k 3, dilation d)--> split --iDWT--> [B, C_out, L]

The paper draws the conv as D -> D; the released code maps 2C to 4C (C_out = 2C, the gate
and filter halves of the block), which is what gives the paper's 1.78M parameters, so this
module follows the code. Because the conv runs at half the length, the same dilation covers
twice the receptive field in samples.

Fast path (the default). DWT and iDWT are fixed 2x2 mixes of the even and odd samples, so
they fold into the conv: with W = [W_l | W_h] on the input bands, the conv of the bands
equals a conv of the polyphase components [even | odd] with weight
[(W_l + W_h) / sqrt 2 | (W_l - W_h) / sqrt 2], and the iDWT's even / odd outputs are the
same mix of the low / high output rows (bias included). Freq-DConv is then one reshape, one
conv with the folded weight and one reshape back, instead of a dozen strided element-wise
ops; `reference=True` computes it literally (dwt.py), and the tests hold the two equal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.fregrad.dwt import haar_dwt, haar_idwt

SQRT_HALF = 1.0 / math.sqrt(2.0)


class FreqDConv(nn.Conv1d):
    """A Conv1d over the stacked Haar sub-bands; its weight is [2 C_out, 2 C_in, k] as in the
    official `DWTDilatedConv1D` (so checkpoints map one to one, minus its Haar buffers)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1):
        super().__init__(2 * in_channels, 2 * out_channels, kernel_size, padding=dilation * (kernel_size - 1) // 2,
                         dilation=dilation)
        self.band_channels = out_channels
        self.reference = False

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_reference(x) if self.reference else self.forward_folded(x)

    def forward_reference(self, x: Tensor) -> Tensor:
        """DWT -> conv -> iDWT, as Fig. 3 draws it."""
        low, high = haar_dwt(x)
        y = super().forward(torch.cat((low, high), dim=1))  # low band first, as the official code
        return haar_idwt(y[:, : self.band_channels], y[:, self.band_channels:])

    def folded_weight(self) -> tuple[Tensor, Tensor]:
        """The conv's weight and bias with the DWT folded into its inputs and the iDWT into its outputs."""
        c_in = self.in_channels // 2
        w_l, w_h = self.weight[:, :c_in], self.weight[:, c_in:]
        w = torch.cat((w_l + w_h, w_l - w_h), dim=1) * SQRT_HALF  # acts on [even | odd]
        o_l, o_h = w[: self.band_channels], w[self.band_channels:]
        b_l, b_h = self.bias[: self.band_channels], self.bias[self.band_channels:]
        weight = torch.cat((o_l + o_h, o_l - o_h), dim=0) * SQRT_HALF  # rows: [even | odd] outputs
        bias = torch.cat((b_l + b_h, b_l - b_h), dim=0) * SQRT_HALF
        return weight, bias

    def forward_folded(self, x: Tensor) -> Tensor:
        b, c, length = x.shape
        if length % 2:
            return self.forward_reference(x)  # raises haar_dwt's clear error
        phases = x.view(b, c, length // 2, 2).permute(0, 3, 1, 2).reshape(b, 2 * c, length // 2)  # [even | odd]
        weight, bias = self.folded_weight()
        y = F.conv1d(phases, weight, bias, padding=self.padding, dilation=self.dilation)
        return y.view(b, 2, self.band_channels, length // 2).permute(0, 2, 3, 1).reshape(b, self.band_channels, length)
