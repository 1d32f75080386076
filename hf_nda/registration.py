"""Registration with transformers' Auto classes (and pipeline tasks), done once on import."""

from __future__ import annotations

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageClassification
from transformers.pipelines import PIPELINE_REGISTRY

from .modeling import (AMRAutoencoder, AMRConfig, AMRDiscriminator, AMRDiscriminatorConfig, COPGenNavigator,
                       COPGenNavigatorConfig, ContrastiveEncoder,
                       ContrastiveEncoderConfig, ContrastiveEncoderForImageClassification, NDADiscriminator,
                       NDADiscriminatorConfig, NDAGenerator, NDAGeneratorConfig)
from .modeling import AugmentationPolicyConfig, AugmentationPolicyNetwork, CRLTACConfig, CRLTACModel
from .pipelines import MixupResynthesisPipeline, OODScoringPipeline, PositiveGenerationPipeline
from .processing import NDAImageProcessor

MODELS = [(NDAGeneratorConfig, NDAGenerator), (NDADiscriminatorConfig, NDADiscriminator),
          (ContrastiveEncoderConfig, ContrastiveEncoder), (AMRConfig, AMRAutoencoder),
          (AMRDiscriminatorConfig, AMRDiscriminator), (COPGenNavigatorConfig, COPGenNavigator)]
MODELS += [(AugmentationPolicyConfig, AugmentationPolicyNetwork), (CRLTACConfig, CRLTACModel)]  # CRL-TAC


PIPELINES = {"ood-scoring": OODScoringPipeline, "mixup-resynthesis": MixupResynthesisPipeline,
             "positive-generation": PositiveGenerationPipeline}


def register_pipelines() -> None:
    for task, pipeline_class in PIPELINES.items():
        if task not in PIPELINE_REGISTRY.get_supported_tasks():
            PIPELINE_REGISTRY.register_pipeline(task, pipeline_class=pipeline_class, pt_model=AutoModel, type="image")


def register_auto_classes() -> None:
    for config_class, model_class in MODELS:
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, model_class, exist_ok=True)
        AutoImageProcessor.register(config_class, image_processor_classes={"torchvision": NDAImageProcessor},
                                    exist_ok=True)
    AutoModelForImageClassification.register(ContrastiveEncoderConfig, ContrastiveEncoderForImageClassification,
                                             exist_ok=True)
