"""Configs and PreTrainedModel classes, one file pair per family."""

from . import small_cnn  # noqa: F401  (registers hf_nda_cnn3 with timm)
from .configuration_amr import AMRConfig, AMRDiscriminatorConfig
from .configuration_contrastive import ContrastiveEncoderConfig
from .configuration_copgen import COPGenNavigatorConfig
from .modeling_copgen import COPGenNavigator, COPGenNavigatorOutput
from .configuration_nda_gan import NDADiscriminatorConfig, NDAGeneratorConfig
from .modeling_nda_gan import (NDADiscriminator, NDADiscriminatorOutput, NDAGenerator, NDAGeneratorOutput)
from .modeling_amr import AMRAutoencoder, AMRAutoencoderOutput, AMRDiscriminator, AMRDiscriminatorOutput
from .modeling_contrastive import (ContrastiveEncoder, ContrastiveEncoderForImageClassification,
                                   ContrastiveEncoderOutput)

__all__ = ["AMRConfig", "AMRDiscriminatorConfig", "AMRAutoencoder", "AMRAutoencoderOutput", "AMRDiscriminator",
           "AMRDiscriminatorOutput", "ContrastiveEncoderConfig", "ContrastiveEncoder", "ContrastiveEncoderForImageClassification",
           "ContrastiveEncoderOutput", "NDADiscriminatorConfig", "NDAGeneratorConfig", "NDADiscriminator", "NDADiscriminatorOutput",
           "NDAGenerator", "NDAGeneratorOutput", "COPGenNavigatorConfig", "COPGenNavigator", "COPGenNavigatorOutput"]
from .generators import (AMRGeneratorAdapter, DDIMGeneratorAdapter, GeneratorAdapter, NDAGeneratorAdapter,
                         detect_generator_kind, load_generator)

__all__ += ["AMRGeneratorAdapter", "DDIMGeneratorAdapter", "GeneratorAdapter", "NDAGeneratorAdapter",
            "detect_generator_kind", "load_generator"]
from .configuration_crl_tac import AugmentationPolicyConfig, CRLTACConfig
from .modeling_crl_tac import AugmentationPolicyNetwork, AugmentationPolicyOutput, CRLTACModel, CRLTACOutput

__all__ += ["AugmentationPolicyConfig", "CRLTACConfig", "AugmentationPolicyNetwork", "AugmentationPolicyOutput",
            "CRLTACModel", "CRLTACOutput"]
