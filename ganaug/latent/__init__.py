"""Latent-space tools: map images to codes, edit the codes, render the result.

* ``invert_images``: reverse search by gradient descent on z (Fernández et al. 2021).
* ``train_encoder`` / ``encode`` / ``reconstruct``: the image-to-latent network (Klang & Carlberg)
  and a simplified cyclic variant (L1 code + L1 image, after Dogan & Keles's Cyclic Reverse
  Generator; Saboo et al.'s full loss is ``train_w_encoder``).
* ``reconstruction_quality``: MSE, PSNR, SSIM of reconstructions.
* ``LatentCode`` / ``mean_code``: arithmetic with provenance (Fernández et al.).
* ``interpolate_codes`` / ``interpolate_images`` / ``interpolate_labels``: linear and spherical paths.
* ``invert_class``: same z, another label (Fernández et al.).
* ``perturb``: z + N(0, sigma^2 I) (Klang & Carlberg eq. 42).
* ``class_direction`` / ``direction_from_pair`` / ``edit`` / ``separation_score``: directions
  (Saboo et al.).
* ``latent_direction``: a direction with its held-out separation, cross-validated AUC and
  permutation null next to the in-sample figure (``WeakDirectionWarning`` when it does not beat
  the null).
* ``latents_to_w`` / ``synthesize`` / ``invert_images_w``: StyleGAN's W and W+ spaces (mapping,
  rendering, reverse search from ``w_avg``); ``class_w_averages``: a conditional generator's
  mean w per class; ``train_w_encoder``: Saboo et al.'s encoder into W.
  Directions and edits work on W codes as on z (``latent_direction``, ``edit``).
* ``edit_along`` / ``direction_response``: edit strips along a direction (z, W, W+; from codes or
  images) and their dose response (a real-trained classifier's target-class probability against
  the strength, monotone per image) with the identity drift (MSE, SSIM to the original);
  ``DirectionResponse.specificity`` pairs each image with its own edit along a control direction.
"""

from ganaug.latent.arithmetic import LatentCode, codes_from_array, mean_code, stack_codes
from ganaug.latent.class_inversion import ClassInversion, invert_class, swapped_labels
from ganaug.latent.directions import (
    LatentDirection,
    WeakDirectionWarning,
    class_direction,
    direction_from_image_pair,
    direction_from_pair,
    edit,
    latent_direction,
    projections,
    separation_score,
)
from ganaug.latent.editing import DirectionResponse, EditStrip, direction_response, edit_along
from ganaug.latent.encoder_training import EncoderTrainingResult, encode, reconstruct, train_encoder
from ganaug.latent.interpolation import (
    ImageInterpolation,
    interpolate_codes,
    interpolate_images,
    interpolate_labels,
    slerp,
    soft_label_generator,
)
from ganaug.latent.inversion import (
    InversionResult,
    generate_images,
    latent_dim_of,
    invert_images,
    is_conditional,
)
from ganaug.latent.perturbation import THESIS_SIGMA, perturb
from ganaug.latent.quality import reconstruction_quality
from ganaug.latent.w_encoder import train_w_encoder
from ganaug.latent.w_inversion import (
    WInversionResult,
    class_w_averages,
    fixed_noise,
    invert_images_w,
    latents_to_w,
    synthesize,
)

__all__ = [
    "ClassInversion",
    "DirectionResponse",
    "EditStrip",
    "EncoderTrainingResult",
    "ImageInterpolation",
    "InversionResult",
    "LatentCode",
    "LatentDirection",
    "THESIS_SIGMA",
    "WInversionResult",
    "WeakDirectionWarning",
    "class_direction",
    "class_w_averages",
    "codes_from_array",
    "direction_from_image_pair",
    "direction_from_pair",
    "direction_response",
    "edit",
    "edit_along",
    "encode",
    "fixed_noise",
    "generate_images",
    "latent_dim_of",
    "latent_direction",
    "interpolate_codes",
    "interpolate_images",
    "interpolate_labels",
    "invert_class",
    "invert_images",
    "invert_images_w",
    "is_conditional",
    "latents_to_w",
    "mean_code",
    "perturb",
    "projections",
    "reconstruct",
    "reconstruction_quality",
    "separation_score",
    "slerp",
    "soft_label_generator",
    "stack_codes",
    "swapped_labels",
    "synthesize",
    "train_encoder",
    "train_w_encoder",
]
