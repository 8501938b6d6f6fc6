"""The feed-forward wing: a one-pass AdaIN stylizer, the learned baseline of the diffusion model.

After Aberman et al. 2020 ("Unpaired motion style transfer from video to animation"): a temporal
1-D convolutional content encoder with instance normalisation and a decoder whose normalisation
layers take their scale and bias from the style (`adain`), trained with the same frozen encoders
and the same geometric and encoder losses as the diffusion adaptor (`train`), saved with its
per-style prototypes and the encoder run's checksum (`checkpoint`), and served through the
evaluation's `Stylizer` interface (`stylize`). Imports the encoders and diffusion wings (frozen
encoders, motion representation, losses, the diffusion stylizer's window helpers and
`StyleTarget`); never evaluation or scene.
"""
