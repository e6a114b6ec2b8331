"""Images: batches, folders with COCO annotations, simulation, diffusion and evidence.

* :class:`ImageBatch`: images with labels, instance masks and boxes; written as an image
  folder plus COCO ``annotations.json`` (atomically), read back with :func:`load_image_folder`;
* :class:`DefectDetector`: a small fully convolutional defect detector trained on masks
  (image score = its most defective 4 x 4 cell), saved and loaded without pickle;
* :class:`CircuitBoardSimulator`: procedural circuit boards with labelled defects and
  :class:`DomainRandomization` of lighting, colour, texture, noise, blur and geometry;
* the class-conditional diffusion model is :class:`sosie.generators.image.ImageDiffusionGenerator`
  (``make_generator("image_diffusion")``) and the evidence :func:`sosie.evaluate.evaluate_images`.

Files and learned models need the ``images`` extra (pillow, diffusers, torch).
"""

from ._batch import ImageBatch, load_image_folder
from .detector import DefectDetector
from .simulation import DEFECT_TYPES, CircuitBoardSimulator, DomainRandomization

__all__ = [
    "DEFECT_TYPES",
    "CircuitBoardSimulator",
    "DefectDetector",
    "DomainRandomization",
    "ImageBatch",
    "load_image_folder",
]
