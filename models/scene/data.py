"""Scene-labelled training windows: real video scenes, and the *controlled* Bandai construction.

Owns `SceneEmbeddings` (a scene vocabulary with one input vector per scene and where the
vectors came from), `SceneWindows` (every window of the chosen clips, encoded once by the frozen
encoder: pooled backbone features, z_style, z_content, labels, the window's scene and its scene
input vector) and the two ways to get them:

- `build_video_scene_windows`: clips with a scene label in the `scenes` table (one labeller),
  each window's scene input is its clip's stored CLIP image embedding, and a scene's associated
  styles are the crawl styles over-represented among its clips (lift >= `min_lift`).
- `build_controlled_scene_windows`: **controlled construction, not real-world data.** The
  Bandai mocap set has no scenes, so `CONTROLLED_SCENE_STYLES` assigns each scene a few styles
  by hand ("stage" -> proud, musical, ...) and every clip of such a style is *declared* to be
  performed in that scene. The scene input vectors are the CLIP text embeddings of the scene
  names when the caller computed them (flows pass `clip-text` embeddings), otherwise
  `fixed_label_embeddings`: a deterministic unit Gaussian vector per name, seeded by the
  sha256 of the name (no model; same on every machine). Every output carries
  `provenance == "controlled"` and reports must label it so.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from models.diffusion.data import local_windows
from models.encoders.run import EncoderRun
from models.encoders.torch_features import window_features_torch
from models.encoders.windows import LabelVocabulary, WindowIndex, load_clips, split_of
from models.scene.encoder import pool_backbone
from storage.errors import UserInputError
from storage.records import MotionClip
from storage.scene_records import UNKNOWN_SCENE
from storage.shard_reader import ShardReader

logger = logging.getLogger(__name__)

CONTROLLED = "controlled"
VIDEO_SCENES = "video-scenes"
FIXED_EMBEDDING_DIM = 64
# The controlled construction (see module doc): each Bandai style belongs to at most one scene.
CONTROLLED_SCENE_STYLES: dict[str, tuple[str, ...]] = {
    "stage": ("proud", "musical"),
    "office": ("normal", "tired"),
    "street": ("chimpira", "angry"),
    "park": ("happy", "childish"),
    "gym": ("active", "masculinity"),
    "home interior": ("old", "sad", "not-confident"),
}


class SceneDataError(UserInputError, ValueError):
    """The data cannot train or evaluate a scene encoder; the message says why."""


@dataclass(frozen=True)
class SceneEmbeddings:
    """Scene names `(V,)`, their input vectors `(V, E)` float32 unit length, and their source."""

    names: tuple[str, ...]
    vectors: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.names):
            raise SceneDataError(f"{len(self.names)} scenes but vectors {self.vectors.shape}")

    def vector(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise SceneDataError(f"unknown scene {name!r}; known: {list(self.names)}")
        return self.vectors[self.names.index(name)]


def fixed_label_embeddings(names: tuple[str, ...], dim: int = FIXED_EMBEDDING_DIM):
    """A deterministic unit vector per name (Gaussian seeded by sha256(name)): no model needed."""
    rows = []
    for name in names:
        seed = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
        row = np.random.default_rng(seed).standard_normal(dim)
        rows.append(row / np.linalg.norm(row))
    return SceneEmbeddings(tuple(names), np.asarray(rows, np.float32), f"fixed-label:sha256:{dim}")


@dataclass
class SceneWindows:
    """Encoded windows; `scene` is -1 for a window without a scene (it can still be a ref)."""

    pooled: Tensor  # (N, 12 D) pooled backbone features
    z_style: Tensor  # (N, Ds)
    z_content: Tensor  # (N, Dc)
    style: Tensor  # (N,) index into vocabulary.styles
    content: Tensor  # (N,) index into vocabulary.contents, -1 unknown
    split: tuple[str, ...]  # (N,) train / val / test of the window's clip
    scene: Tensor  # (N,) index into scenes, -1 none
    embedding: Tensor  # (N, E) the window's scene input vector (zeros when none)
    vocabulary: LabelVocabulary
    scenes: tuple[str, ...]
    associations: dict[str, tuple[str, ...]]
    provenance: str

    def __len__(self) -> int:
        return len(self.style)

    def where(self, splits: tuple[str, ...]) -> Tensor:
        """Indices `(M,)` of the windows whose clip is in `splits`."""
        return torch.tensor([i for i, s in enumerate(self.split) if s in splits], dtype=torch.long)

    def scene_styles(self) -> list[set[int]]:
        """Per scene, the style indices associated with it."""
        styles = self.vocabulary.styles
        return [{styles.index(s) for s in self.associations[v] if s in styles} for v in self.scenes]


@torch.no_grad()
def encode_windows(run: EncoderRun, windows: np.ndarray, batch_size: int = 128) -> dict:
    """Frozen-encoder codes of local windows `(N, W, J, 3)`: pooled, z_style, z_content."""
    model, out = run.model, {"pooled": [], "z_style": [], "z_content": []}
    device = next(model.parameters()).device
    for start in range(0, len(windows), batch_size):
        chunk = torch.as_tensor(windows[start : start + batch_size], device=device)
        tokens, descriptors = window_features_torch(chunk, run.features.fps, run.features)
        tokens, descriptors = run.stats.normalise(tokens, descriptors)
        features = model.encode_backbone(tokens)  # (B, W, 6, D)
        use = descriptors if model.config.use_descriptors else None
        z_style, _ = model.heads["style"](features, use)  # (B, Ds)
        _, z_content = model.heads["content"](features)  # (B, Dc)
        out["pooled"].append(pool_backbone(features).cpu())
        out["z_style"].append(z_style.float().cpu())
        out["z_content"].append(z_content.float().cpu())
    return {name: torch.cat(values) for name, values in out.items()}


def _window_rows(run: EncoderRun, clips: list[MotionClip]) -> tuple[WindowIndex, dict]:
    index = WindowIndex.from_clips(clips, run.vocabulary, run.features)
    if len(index) == 0:
        raise SceneDataError("every scene-labelled clip is shorter than a window")
    return index, encode_windows(run, local_windows(clips, index))


def _assemble(run, clips, index, codes, scene_of_clip, vectors, scenes, associations, kind):
    clip_ids = [clips[c].clip_id for c in index.clip_indices.tolist()]
    scene = torch.tensor([scenes.index(scene_of_clip[i]) if i in scene_of_clip else -1
                          for i in clip_ids], dtype=torch.long)  # fmt: skip
    width = next(iter(vectors.values())).shape[0] if vectors else FIXED_EMBEDDING_DIM
    embedding = torch.stack([torch.as_tensor(vectors.get(i, np.zeros(width, np.float32)))
                             for i in clip_ids])  # fmt: skip
    split = tuple(split_of(clips[c]) for c in index.clip_indices.tolist())
    logger.info("%s scene windows: %d (%d with a scene)", kind, len(scene), int((scene >= 0).sum()))
    return SceneWindows(
        pooled=codes["pooled"], z_style=codes["z_style"], z_content=codes["z_content"],
        style=torch.as_tensor(index.styles), content=torch.as_tensor(index.contents), split=split,
        scene=scene, embedding=embedding.float(), vocabulary=run.vocabulary, scenes=scenes,
        associations=associations, provenance=kind,
    )  # fmt: skip


def build_controlled_scene_windows(
    run: EncoderRun,
    data_root: str,
    embeddings: SceneEmbeddings,
    associations: dict[str, tuple[str, ...]] | None = None,
) -> SceneWindows:
    """CONTROLLED construction on mocap clips (all splits): each clip of a style listed under a
    scene is declared performed there; other clips are kept, scene-less, as references."""
    associations = dict(associations or CONTROLLED_SCENE_STYLES)
    missing = sorted(set(associations) - set(embeddings.names))
    if missing:
        raise SceneDataError(f"no scene embedding for {missing}")
    scene_of_style = {s: scene for scene, styles in associations.items() for s in styles}
    clips = [c for c in load_clips(data_root, splits=None) if c.style in run.vocabulary.styles]
    if not any(c.style in scene_of_style for c in clips):
        raise SceneDataError(f"{data_root}: no clip has a style of {sorted(scene_of_style)}")
    index, codes = _window_rows(run, clips)
    scene_of_clip = {c.clip_id: scene_of_style[c.style] for c in clips if c.style in scene_of_style}
    vectors = {i: embeddings.vector(s) for i, s in scene_of_clip.items()}
    present = set(scene_of_clip.values())  # a scene without clips would be an untrained label
    scenes = tuple(name for name in embeddings.names if name in present)
    associations = {name: associations[name] for name in scenes}
    return _assemble(run, clips, index, codes, scene_of_clip, vectors, scenes, associations,
                     CONTROLLED)  # fmt: skip


def associated_styles(pairs: list[tuple[str, str]], min_lift: float = 1.5) -> dict:
    """Per scene, styles whose share among its clips is >= `min_lift` x their overall share."""
    overall = Counter(style for _, style in pairs)
    per_scene: dict[str, Counter] = {}
    for scene, style in pairs:
        per_scene.setdefault(scene, Counter())[style] += 1
    result = {}
    for scene, counts in per_scene.items():
        total = sum(counts.values())
        lift = {s: (n / total) / (overall[s] / len(pairs)) for s, n in counts.items()}
        result[scene] = tuple(sorted(s for s, value in lift.items() if value >= min_lift))
    return result


def build_video_scene_windows(
    run: EncoderRun, data_root: str, labeller_id: str, min_lift: float = 1.5
) -> SceneWindows:
    """REAL scene labels: clips with a (non-unknown) scene from one labeller of the scenes
    table; each window's scene input is its clip's stored CLIP image embedding."""
    reader = ShardReader(data_root)
    table = reader.scenes(labeller_id, columns=["clip_id", "label", "embedding"]).to_pylist()
    rows = {r["clip_id"]: r for r in table if r["label"] not in (None, UNKNOWN_SCENE)}
    if not rows:
        raise SceneDataError(f"{data_root}: no scene labels of labeller {labeller_id!r}")
    clips = [c for c in load_clips(data_root, splits=None) if c.clip_id in rows]
    clips = [c for c in clips if c.style in run.vocabulary.styles]
    if not clips:
        raise SceneDataError(f"{data_root}: no scene-labelled clip has a style the encoder knows")
    index, codes = _window_rows(run, clips)
    scene_of_clip = {c.clip_id: rows[c.clip_id]["label"] for c in clips}
    vectors = {i: np.asarray(rows[i]["embedding"], np.float32) for i in scene_of_clip}
    associations = associated_styles([(scene_of_clip[c.clip_id], c.style) for c in clips],
                                     min_lift)  # fmt: skip
    scenes = tuple(sorted(associations))
    return _assemble(run, clips, index, codes, scene_of_clip, vectors, scenes, associations,
                     VIDEO_SCENES)  # fmt: skip
