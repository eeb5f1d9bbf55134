"""GAN training: losses, the training engine (one device, several, several machines), sampling.

Public API: ``GANTrainer`` (the engine), ``train_gan`` (models from the factories + training + run
directory), ``generate_images`` (sampling), ``train_classifier``/``predict_classes`` (supervised
classifiers), and the loss functions in ``ganaug.training.losses``.
"""

from ganaug.training import losses
from ganaug.training.classifier import predict_classes, train_classifier
from ganaug.training.distribute import resolve_strategy
from ganaug.training.sampling import generate_images
from ganaug.training.pipeline import train_gan
from ganaug.training.trainer import FAMILIES, GANTrainer, infer_family

__all__ = [
    "FAMILIES", "GANTrainer", "generate_images", "infer_family", "losses", "predict_classes",
    "resolve_strategy", "train_classifier", "train_gan",
]
