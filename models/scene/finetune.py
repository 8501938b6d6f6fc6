"""Scene-fused conditions for the adaptor fine-tune (`TrainDiffusionConfig.scene_run`).

Owns `SceneFusionTargets`, the `scene_fusion` the callers hand to `train_diffusion`: for the chosen
samples of an adaptor batch, a scene of the scene run is drawn, the global style token becomes the
fused `z_s + alpha * z_scene` of the source window's own style and that scene (alpha ~ U(0.5, 1.5),
as the scene encoder was trained), and the style target becomes the frozen encoder's prototype of a
style the scene is associated with (the run's `associations`, a controlled construction on Bandai
unless real scene labels were used). The adaptor thus learns to turn fused conditions, which lie
off the training styles, into motion of the scene's styles; the base and the scene encoder stay
frozen.
"""

from __future__ import annotations

import torch
from torch import Tensor

from models.scene.condition import load_scene_run, scene_vector


class SceneFusionTargets:
    def __init__(self, scene_run: str, data, encoder_checksum: str, device) -> None:
        self.run = load_scene_run(scene_run, encoder_checksum=encoder_checksum)
        self.data, self.device = data, device
        self.prototypes, _ = data.prototypes()  # (S, Ds)
        styles = data.vocabulary.styles
        self.scene_styles = {
            scene: [styles.index(s) for s in self.run.checkpoint.associations[scene] if s in styles]
            for scene in self.run.scenes
        }
        self.scenes = [scene for scene, chosen in self.scene_styles.items() if chosen]
        if not self.scenes:
            raise ValueError(f"{scene_run}: no scene is associated with a style this run knows")

    def fuse(
        self, vectors: Tensor, target_style: Tensor, batch, index: Tensor, chosen: Tensor, gen
    ) -> tuple[Tensor, Tensor]:
        """Vectors `(B, 6, Ds)` and style targets `(B, Ds)` with the chosen rows scene-fused."""
        vectors, target_style = vectors.clone(), target_style.clone()
        for row in torch.nonzero(chosen).flatten().tolist():
            scene = self.scenes[int(torch.randint(len(self.scenes), (1,), generator=gen))]
            alpha = 0.5 + float(torch.rand(1, generator=gen))
            own = self.data.style[index[row]]  # (Ds,) the source window's own style
            local = batch.local[row].detach().cpu().numpy()
            v = scene_vector(self.run, local, scene, alpha, own)
            vectors[row, 0] = (own + alpha * v).to(vectors.device)
            options = self.scene_styles[scene]
            pick = options[int(torch.randint(len(options), (1,), generator=gen))]
            target_style[row] = self.prototypes[pick]
        return vectors, target_style
