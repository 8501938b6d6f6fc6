"""The scene wing: the scene encoder, scene-conditioned stylization and its evaluation.

Scene head and checkpoints (`encoder`), its data and losses, training (`train`), scene vectors
as stylization conditions (`condition`), the adaptor fine-tune with scene-fused conditions
(`finetune`, handed to diffusion training by the caller), scene-as-text (`text`) and the
evaluations (`evaluate`, `stylize_eval`, `alpha_plot`). The top wing: may import every other
wing; only `flows` imports it.
"""
