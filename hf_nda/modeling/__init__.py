"""Configs and PreTrainedModel classes, one file pair per family."""

from .configuration_nda_gan import NDADiscriminatorConfig, NDAGeneratorConfig
from .modeling_nda_gan import (NDADiscriminator, NDADiscriminatorOutput, NDAGenerator, NDAGeneratorOutput)

__all__ = ["NDADiscriminatorConfig", "NDAGeneratorConfig", "NDADiscriminator", "NDADiscriminatorOutput",
           "NDAGenerator", "NDAGeneratorOutput"]
