"""The scene-label wing: scene columns for clips from their videos' keyframes.

Keyframes and person masking (`keyframes`, `inputs`), the vocabulary (`vocab`), model loading
and settings (`model_loading`, `label_config`, `torchvision_compat`), open_clip zero-shot
(`clip_model`), VLM captions (`caption`), text embeddings (`text_model`), image/video queries
(`query`) and the labelling driver (`labeller`, `labelling`).
"""
