"""hf_nda: learning from what the data is *not*, in the Hugging Face ecosystem.

Importing the package registers its configs and models with the transformers Auto classes, its
image processor with ``AutoImageProcessor`` and its pipeline tasks.
"""

__version__ = "0.1.0"

from .modeling import (AMRAutoencoder, AMRConfig, AMRDiscriminator, AMRDiscriminatorConfig, COPGenNavigator,
                       COPGenNavigatorConfig, ContrastiveEncoder,
                       ContrastiveEncoderConfig, ContrastiveEncoderForImageClassification, NDADiscriminator,
                       NDADiscriminatorConfig, NDADiscriminatorOutput, NDAGenerator, NDAGeneratorConfig,
                       NDAGeneratorOutput)
from .modeling import AugmentationPolicyConfig, AugmentationPolicyNetwork, CRLTACConfig, CRLTACModel
from .processing import NDAImageProcessor, get_transform
from .registration import register_auto_classes, register_pipelines

register_auto_classes()
register_pipelines()

__all__ = ["__version__", "AMRAutoencoder", "AMRConfig", "AMRDiscriminator", "AMRDiscriminatorConfig",
           "COPGenNavigator", "COPGenNavigatorConfig",
           "ContrastiveEncoder", "ContrastiveEncoderConfig", "ContrastiveEncoderForImageClassification",
           "NDADiscriminator", "NDADiscriminatorConfig", "NDADiscriminatorOutput", "NDAGenerator",
           "NDAGeneratorConfig", "NDAGeneratorOutput", "NDAImageProcessor", "get_transform"]
__all__ += ["AugmentationPolicyConfig", "AugmentationPolicyNetwork", "CRLTACConfig", "CRLTACModel"]
