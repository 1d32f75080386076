"""Configs and PreTrainedModel classes, one file pair per family."""

from .configuration_contrastive import ContrastiveEncoderConfig
from .configuration_nda_gan import NDADiscriminatorConfig, NDAGeneratorConfig
from .modeling_nda_gan import (NDADiscriminator, NDADiscriminatorOutput, NDAGenerator, NDAGeneratorOutput)

from .modeling_contrastive import (ContrastiveEncoder, ContrastiveEncoderForImageClassification,
                                   ContrastiveEncoderOutput)

__all__ = ["ContrastiveEncoderConfig", "ContrastiveEncoder", "ContrastiveEncoderForImageClassification",
           "ContrastiveEncoderOutput", "NDADiscriminatorConfig", "NDAGeneratorConfig", "NDADiscriminator", "NDADiscriminatorOutput",
           "NDAGenerator", "NDAGeneratorOutput"]
