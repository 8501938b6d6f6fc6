"""Fitting the content head's style eraser on a trained run's training windows.

Owns `fit_content_eraser`: the end of `train_encoders` (when `erase_style_from_content` is on)
embeds every training window (no augmentation, eval mode) with the eraser reset to the identity,
fits the LEACE eraser of the window's style from its pooled `z_c`
(`models.encoders.concept_erasure`) and stores it in the content head, so every later user of
the run (evaluation, diffusion, stylization) gets the erased `z_c` and `z_c` sequence. The
returned note goes into the checkpoint and the run card.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from models.encoders.concept_erasure import fit_linear_eraser
from models.encoders.encoder import MotionEncoder
from models.encoders.windows import WindowDataset, collate_windows


def pooled_content_codes(
    model: MotionEncoder, dataset: WindowDataset, device: torch.device
) -> np.ndarray:
    """Pooled `z_c (N, Dc)` of every window of `dataset`, in eval mode."""
    codes = []
    model.eval()
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=256, collate_fn=collate_windows):
            batch = batch.to(device)
            codes.append(model(batch.tokens, batch.descriptors).z_content.float().cpu().numpy())
    return np.concatenate(codes)


def fit_content_eraser(
    model: MotionEncoder, dataset: WindowDataset, styles: np.ndarray, device: torch.device
) -> dict[str, object]:
    """Fit and install the eraser of `styles (N,)` from the windows' `z_c`; a note of it.

    `dataset` gives the training windows without augmentation, in `styles`' order.
    """
    eraser = model.heads["content"].style_eraser
    eraser.reset()
    codes = pooled_content_codes(model, dataset, device)
    if len(np.unique(styles)) < 2:
        return {"method": "LEACE", "fitted": False, "reason": "fewer than two styles"}
    mean, projection = fit_linear_eraser(codes, styles)
    eraser.set(mean, projection)
    return {
        "method": "LEACE (Belrose et al. 2023), style from pooled z_c",
        "fitted": True,
        "windows": int(len(codes)),
        "styles": int(len(np.unique(styles))),
        "erased_rank": int(np.linalg.matrix_rank(projection, tol=1e-6)),
    }
