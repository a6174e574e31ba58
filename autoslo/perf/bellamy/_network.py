"""The network: a scale-out branch, one shared property encoder (an auto-encoder with its
decoder), required property codes concatenated, optional ones averaged over those present, and a
small head predicting standardised log runtime (so runtimes stay positive)."""

from __future__ import annotations

import torch
from torch import nn

from autoslo.perf._rows import PROPERTIES
from autoslo.perf.bellamy._features import WIDTH

CODE = 8
SCALE_CODE = 8
N_REQUIRED = sum(p.required for p in PROPERTIES)


class BellamyNet(nn.Module):
    """Scale-out features + property vectors -> standardised log runtime (and reconstructions)."""

    def __init__(self, width: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.width = width
        self.dropout = dropout
        self.scale_out = nn.Sequential(nn.Linear(3, 16), nn.SELU(), nn.Linear(16, SCALE_CODE),
                                       nn.SELU())
        self.encoder = nn.Sequential(nn.Linear(WIDTH, width), nn.SELU(), nn.Linear(width, CODE))
        self.decoder = nn.Sequential(nn.Linear(CODE, width), nn.SELU(), nn.Linear(width, WIDTH))
        head_in = SCALE_CODE + N_REQUIRED * CODE + CODE
        self.head = nn.Sequential(nn.Linear(head_in, width), nn.SELU(), nn.Dropout(dropout),
                                  nn.Linear(width, width), nn.SELU(), nn.Dropout(dropout),
                                  nn.Linear(width, 1))

    def forward(self, scale: torch.Tensor, props: torch.Tensor, mask: torch.Tensor,
                index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(prediction per row, reconstructed property vectors per context).

        Properties come once per distinct context (`props`, `mask`); `index` maps rows to them.
        """
        codes = self.encoder(props) * mask.unsqueeze(-1)
        required = codes[:, :N_REQUIRED].flatten(1)
        optional_mask = mask[:, N_REQUIRED:]
        pooled = codes[:, N_REQUIRED:].sum(1) / optional_mask.sum(1, keepdim=True).clamp(min=1.0)
        context = torch.cat([required, pooled], dim=1)[index]
        joined = torch.cat([self.scale_out(scale), context], dim=1)
        return self.head(joined).squeeze(-1), self.decoder(codes)
