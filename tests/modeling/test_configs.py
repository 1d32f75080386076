"""The configs follow the transformers 5 idiom: ``Literal[...]`` fields and ``validate_*`` methods of
``@strict`` dataclasses. A bad value fails at construction, at ``from_pretrained`` of a hand-edited
config.json and at ``save_pretrained`` after a mutation, with a message naming the field."""

import dataclasses
import doctest
import json
from typing import Literal, get_args, get_origin

import pytest
from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig, AutoModel

import hf_nda  # noqa: F401
from hf_nda.modeling import configuration_amr, configuration_contrastive, configuration_nda_gan
from hf_nda.modeling.configuration_amr import AMRConfig, AMRConfigBase, AMRDiscriminatorConfig
from hf_nda.modeling.configuration_contrastive import ContrastiveEncoderConfig
from hf_nda.modeling.configuration_nda_gan import NDADiscriminatorConfig, NDAGANConfigBase, NDAGeneratorConfig
from hf_nda.modeling.mixers import MIXER_FUNCTIONS

CONFIGS = (NDAGeneratorConfig, NDADiscriminatorConfig, AMRConfig, AMRDiscriminatorConfig, ContrastiveEncoderConfig)

# (config class, field, bad value, what the message must say: the field and the allowed values)
BAD = [
    (NDAGeneratorConfig, "image_size", 30, r"Field 'image_size' expected one of \(28, 32, 64\), got 30"),
    (NDAGeneratorConfig, "latent_dim", 0, r"latent_dim must be >= 1"),
    (NDADiscriminatorConfig, "architecture", "vit", r"Field 'architecture' expected one of \('dcgan', 'resnet'\)"),
    (NDADiscriminatorConfig, "num_channels", 2, r"Field 'num_channels' expected one of \(1, 3\), got 2"),
    (NDADiscriminatorConfig, "num_classes", -1, r"num_classes must be 0 \(unconditional\) or the number"),
    (AMRConfig, "mixer", "cutmix", r"Field 'mixer' expected one of \('mixup', 'bernoulli', 'none'\), got cutmix"),
    (AMRConfig, "mixer_k", 1, r"mixer_k must be >= 2"),
    (AMRConfig, "latent_channels", 0, r"latent_channels must be >= 1"),
    (AMRDiscriminatorConfig, "image_size", 28, r"Field 'image_size' expected one of \(16, 32, 64\), got 28"),
    (AMRDiscriminatorConfig, "base_channels", 0, r"base_channels must be >= 1"),
    (ContrastiveEncoderConfig, "ood_method", "lof", r"Field 'ood_method' expected one of \('knn', 'mahalanobis'\)"),
    (ContrastiveEncoderConfig, "backbone", "resnet19x", r"unknown timm backbone 'resnet19x'; close names"),
    (ContrastiveEncoderConfig, "ood_k", 0, r"ood_k must be >= 1"),
]
IDS = [f"{cls.__name__}.{name}={value!r}" for cls, name, value, _ in BAD]


def _checked_at_assignment(cls, name) -> bool:
    """Type and Literal errors are raised by @strict's __setattr__; validate_* ones at validate()."""
    return get_origin(cls.__dataclass_fields__[name].type) is Literal


@pytest.mark.parametrize("cls, name, value, message", BAD, ids=IDS)
def test_bad_value_fails_at_construction(cls, name, value, message):
    with pytest.raises(StrictDataclassError, match=message):
        cls(**{name: value})


@pytest.mark.parametrize("cls, name, value, message", BAD, ids=IDS)
def test_bad_value_in_edited_config_json_fails_at_from_pretrained(cls, name, value, message, tmp_path):
    cls().save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), name: value}))
    with pytest.raises(StrictDataclassError, match=message):
        cls.from_pretrained(tmp_path)
    with pytest.raises(StrictDataclassError, match=message):
        AutoConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize("cls, name, value, message", BAD, ids=IDS)
def test_bad_value_set_after_construction_fails_before_anything_is_saved(cls, name, value, message, tmp_path):
    config = cls()
    if _checked_at_assignment(cls, name):
        with pytest.raises(StrictDataclassError, match=message):
            setattr(config, name, value)
        assert getattr(config, name) != value
    else:
        setattr(config, name, value)
        with pytest.raises(StrictDataclassError, match=message):
            config.save_pretrained(tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_model_from_pretrained_rejects_an_edited_config(tmp_path):
    from hf_nda import NDADiscriminator

    NDADiscriminator(NDADiscriminatorConfig(base_channels=4)).save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "architecture": "vit"}))
    with pytest.raises(StrictDataclassError, match=r"'architecture' expected one of \('dcgan', 'resnet'\)"):
        AutoModel.from_pretrained(tmp_path)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_allowed_value_round_trips(cls, tmp_path):
    literal_fields = {f.name: get_args(f.type) for f in dataclasses.fields(cls)
                      if get_origin(f.type) is Literal and f.name in _own_and_base_annotations(cls)}
    assert literal_fields, cls
    for name, allowed in literal_fields.items():
        for value in allowed:
            config = cls(**{name: value})
            config.save_pretrained(tmp_path / f"{name}-{value}")
            loaded = AutoConfig.from_pretrained(tmp_path / f"{name}-{value}")
            assert type(loaded) is cls and getattr(loaded, name) == value


def _own_and_base_annotations(cls) -> dict:
    """Annotations written in hf_nda's classes (not transformers' PreTrainedConfig)."""
    return {k: v for c in cls.__mro__ if c.__module__.startswith("hf_nda")
            for k, v in c.__dict__.get("__annotations__", {}).items()}


@pytest.mark.parametrize("base, pair, shared", [
    (NDAGANConfigBase, (NDAGeneratorConfig, NDADiscriminatorConfig),
     {"architecture", "image_size", "num_channels", "base_channels", "num_classes", "initializer_range"}),
    (AMRConfigBase, (AMRConfig, AMRDiscriminatorConfig),
     {"image_size", "num_channels", "base_channels", "num_classes"}),
])
def test_shared_fields_are_defined_once_in_the_base(base, pair, shared):
    assert set(base.__dict__["__annotations__"]) == shared
    for cls in pair:
        assert issubclass(cls, base)
        assert not shared & set(cls.__dict__.get("__annotations__", {})), cls  # not repeated
    assert {f.name: f.default for f in dataclasses.fields(pair[0]) if f.name in shared} == \
           {f.name: f.default for f in dataclasses.fields(pair[1]) if f.name in shared}


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_field_types_are_real_types_that_strict_checks(cls):
    """``from __future__ import annotations`` would make them strings, which @strict skips silently."""
    stringified = {k: v for k, v in _own_and_base_annotations(cls).items() if isinstance(v, str)}
    assert not stringified


def test_module_tuples_are_derived_from_the_literals():
    assert configuration_nda_gan.ARCHITECTURES == ("dcgan", "resnet")
    assert configuration_nda_gan.IMAGE_SIZES == (28, 32, 64)
    assert configuration_amr.MIXERS == get_args(AMRConfig.__dataclass_fields__["mixer"].type)
    assert set(configuration_amr.MIXERS) == set(MIXER_FUNCTIONS)  # every allowed mixer has a function
    assert configuration_amr.IMAGE_SIZES == (16, 32, 64)
    assert configuration_contrastive.OOD_METHODS == ("knn", "mahalanobis")


@pytest.mark.parametrize("module", [configuration_nda_gan, configuration_amr, configuration_contrastive],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
