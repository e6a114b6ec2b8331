"""Image generator families: the shared contract and the diffusion model."""

from ._base import ImageGenerator, ImageSchema, image_fingerprint
from .diffusion import ImageDiffusionGenerator

__all__ = ["ImageDiffusionGenerator", "ImageGenerator", "ImageSchema", "image_fingerprint"]
