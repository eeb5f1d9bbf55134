"""The generator contract, read from a model: what every sampling, latent and export tool needs to know.

Every generator factory of ``ganaug.models`` returns a Functional model with the same contract
(``docs/architecture.md``): input ``latent`` ``(N, latent_dim)`` float32, and for a conditional
generator a second input ``label`` ``(N,)`` int32 class indices; output images ``(N, H, W, C)``
in [-1, 1]. ``GeneratorSpec.of(model)`` reads that contract once, so no tool counts the inputs
itself. What the model does not carry (its prior, and its family when it was renamed) comes from
the run's ``config.json`` when it is passed.
"""

import dataclasses
import numbers

import keras

#: Default model names of the generator factories -> their family (``training.objectives.FAMILIES``).
_FAMILY_OF_NAME = {
    "dcgan_generator": "dcgan",
    "cdcgan_generator": "cdcgan",
    "acgan_generator": "acgan",
    "sngan_generator": "sngan",
    "stylegan_generator": "stylegan",
}


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    """What a generator takes and gives.

    Attributes:
        conditional: True if the generator takes ``[latent, label]`` (or SPADE's ``[latent, mask]``
            / ``[latent, mask, image]``, the image feeding its style encoder).
        latent_dim: length of a latent code.
        image_shape: ``(height, width, channels)`` of its images.
        num_classes: classes of a conditional generator (read from its label layer), else None.
        latent_distribution: its prior (``"normal"`` or ``"uniform"``), known from a run's config
            only; None when not knowable from the model alone.
        family: ``"dcgan"``, ``"cdcgan"``, ``"acgan"``, ``"sngan"``, ``"stylegan"``,
            ``"cstylegan"``, from the run's config or the factory's default model name; None
            when neither tells.
    """

    conditional: bool
    latent_dim: int
    image_shape: tuple
    num_classes: int = None
    latent_distribution: str = None
    family: str = None

    @classmethod
    def of(cls, model, config=None):
        """Returns the ``GeneratorSpec`` of ``model`` (and of its run's ``config`` if given).

        Args:
            model: a generator ``keras.Model``.
            config: optional run config (``ganaug.runs.read_config``): its ``latent_distribution``,
                ``family`` and ``num_classes`` complete what the model does not carry.

        Raises:
            TypeError: if ``model`` is not a keras.Model.
            ValueError: if it does not have the generator contract (one or two inputs, a
                ``(N, latent_dim)`` first input, image outputs).
        """
        if not isinstance(model, keras.Model):
            raise TypeError(f"`generator` must be a keras.Model. Received: generator={type(model).__name__}")
        paired_with_images = len(model.inputs) == 3 and len(model.inputs[1].shape) == 3
        if len(model.inputs) not in (1, 2) and not paired_with_images:
            raise ValueError(
                "`generator` must take `latent`, `[latent, label]` or (SPADE with a style encoder) "
                f"`[latent, mask, image]`. Received: generator with {len(model.inputs)} inputs"
            )
        latent_shape = model.inputs[0].shape
        if len(latent_shape) != 2 or latent_shape[-1] is None:
            raise ValueError(
                "`generator`'s first input must be a latent code of shape (N, latent_dim). "
                f"Received: input shape {latent_shape}"
            )
        output_shape = model.outputs[0].shape
        if len(output_shape) != 4:
            raise ValueError(f"`generator` must output images (N, H, W, C). Received: output shape {output_shape}")
        config = config or {}
        conditional = len(model.inputs) >= 2  # a label, or SPADE's label map
        num_classes = _num_classes(model) if conditional else None
        if conditional and num_classes is None and isinstance(config.get("num_classes"), numbers.Integral):
            num_classes = int(config["num_classes"])
        family = config.get("family") or _FAMILY_OF_NAME.get(model.name)
        if family == "stylegan" and conditional:
            family = "cstylegan"
        return cls(
            conditional=conditional,
            latent_dim=int(latent_shape[-1]),
            image_shape=tuple(int(d) for d in output_shape[1:]),
            num_classes=num_classes,
            latent_distribution=config.get("latent_distribution"),
            family=family,
        )


def _num_classes(model):
    """The ``num_classes`` of the first layer that has one (the label's one-hot, embedding or norm)."""
    for layer in model._flatten_layers(include_self=False):
        value = getattr(layer, "num_classes", None)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    return None
