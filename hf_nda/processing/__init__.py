"""Negative/positive batch transforms, corruptions and the NDA image processor."""

from .base import TRANSFORMS, BatchTransform, OneOf, check_batch, check_index, get_transform, transform_from_dict
from .corruptions import CORRUPTIONS, corrupt
from .discrete import CropGrid, DiscreteTransformSet, JigsawPermutations, Rotations
from .image_processing_nda import NDAImageProcessor
from .negatives import CutMix, Cutout, Jigsaw, Mixup, OtherClass, Stitch
from .positives import GaussianNoise, HorizontalFlip, RandomCrop
from .views import MoCoV2Views

NEGATIVE_NAMES = ["jigsaw", "stitch", "cutout", "cutmix", "mixup"]
POSITIVE_NAMES = ["randomcrop", "flip", "gaussian"]
DISCRETE_NAMES = ["cropgrid", "jigsawperms", "rotations"]

__all__ = ["TRANSFORMS", "BatchTransform", "OneOf", "check_batch", "check_index", "get_transform",
           "transform_from_dict", "CORRUPTIONS", "corrupt", "CropGrid", "DiscreteTransformSet",
           "JigsawPermutations", "Rotations", "NDAImageProcessor", "CutMix", "Cutout", "Jigsaw", "Mixup",
           "OtherClass", "Stitch", "GaussianNoise", "HorizontalFlip", "RandomCrop", "NEGATIVE_NAMES",
           "POSITIVE_NAMES", "DISCRETE_NAMES", "MoCoV2Views"]
