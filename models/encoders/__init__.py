"""The encoders wing: motion features, windows, the content/style encoders and their training.

Features and their differentiable twin, windows, augmentation and style-balanced batches, the
encoder, the contrastive losses, the training loop (`train`, config in `train_config`, data in
`training_data`), a trained run as a frozen, checksummed dependency (`run`), its evaluation
(`evaluate`, `probes`, `embedding_plot`) and the ablation grid. The bottom wing: imports no
other wing of `models` (only `models.common`).
"""
