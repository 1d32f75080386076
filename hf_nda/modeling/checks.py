"""What hf_nda's models check: the weights they load and the inputs they get.

**Weights.** transformers 5 loads a checkpoint into the architecture its ``config.json`` describes
and, for weights the checkpoint lacks (*missing*) or holds but the architecture does not
(*unexpected*), only logs a load report — the missing ones are freshly initialised. That is right for
a task head put on a pretrained backbone, and wrong for a model that must be exactly what was saved
(a discriminator that scores images, a generator that samples them): a ``config.json`` edited to
another width, spectral norm off, another class count or another ``model_type`` would load as noise.
:class:`StrictLoadingMixin` asks ``from_pretrained`` for its loading info and turns any missing,
unexpected or shape-mismatched weight into a ``ValueError`` naming the weights, the config fields
that decide them, and the fix.

**Inputs.** :func:`check_input` and :func:`check_labels` give every forward the same errors — an
argument that is not a tensor, has the wrong rank or shape, an integer dtype, a dtype or device
other than the weights', or NaN — each naming the argument and the fix, instead of a dtype error from
inside a convolution or an ``IndexError`` from an embedding. NaN/inf are checked in evaluation mode
(inference); in training the trainers' divergence check reports them with the step.
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

import torch

_MAX_LISTED = 6


class _HoldLoadReport(logging.Filter):
    """Holds back transformers' load-report warning while the loading info is checked: when the load is
    refused the ValueError says it all; when it is accepted (allowed task-head keys) the report is
    logged after all."""

    def __init__(self):
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in record.getMessage():
            self.held.append(record)
            return False
        return True


def _listed(keys) -> str:
    keys = sorted(keys)
    more = f" … ({len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
    return ", ".join(keys[:_MAX_LISTED]) + more


class StrictLoadingMixin:
    """``from_pretrained`` that refuses weights which do not fit the config (see the module docstring).

    A subclass may list regular expressions of keys that *may* be missing or unexpected
    (``_allowed_missing_on_load``, ``_allowed_unexpected_on_load``): a task head loaded on a pretrained
    backbone. ``from_pretrained(..., strict=False)`` restores transformers' behaviour (a warning, the
    missing weights freshly initialised); ``ignore_mismatched_sizes=True`` allows shape mismatches only.
    ``config_fields_hint`` names the config fields that decide the weight shapes, for the message.
    """

    _allowed_missing_on_load: ClassVar[tuple[str, ...]] = ()
    _allowed_unexpected_on_load: ClassVar[tuple[str, ...]] = ()
    config_fields_hint: ClassVar[str] = "the architecture fields"

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, strict: bool = True, **kwargs):
        """``PreTrainedModel.from_pretrained``; missing, unexpected or mis-shaped weights are a ValueError
        (``strict=False``: only a warning, as in transformers), a damaged weights file too."""
        from safetensors import SafetensorError
        from transformers import modeling_utils

        want_info = kwargs.pop("output_loading_info", False)
        allow_mismatch = bool(kwargs.get("ignore_mismatched_sizes", False))
        if strict:
            kwargs["ignore_mismatched_sizes"] = True  # report mismatches below, with the config fields
        hold = _HoldLoadReport()
        report_logger = modeling_utils.logger
        if strict:
            report_logger.addFilter(hold)
        try:
            model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True,
                                                  **kwargs)
        except SafetensorError as err:
            raise ValueError(f"the weights of {pretrained_model_name_or_path} are corrupt or incomplete "
                             f"(safetensors: {err}); re-download the model or export it again") from err
        finally:
            report_logger.removeFilter(hold)
        if strict:
            problem = cls._weight_problem(info, allow_mismatch)
            if problem:
                raise ValueError(
                    f"{pretrained_model_name_or_path} does not hold the weights of the {cls.__name__} its config.json "
                    f"describes: {problem}. The config and the weights disagree ({cls.config_fields_hint}; was "
                    "config.json edited, or copied from another model?). Restore the config.json saved with these "
                    "weights, or load the folder the config belongs to; from_pretrained(..., strict=False) loads "
                    "anyway, with the disagreeing weights randomly initialised.")
            for record in hold.held:  # accepted: the allowed differences are reported as usual
                report_logger.handle(record)
        return (model, info) if want_info else model

    @classmethod
    def _weight_problem(cls, info: dict, allow_mismatch: bool) -> str:
        """What is wrong with a load's ``info`` (missing / unexpected / mismatched keys), or ''."""
        def outside(keys, allowed):
            pattern = re.compile("|".join(f"(?:{p})" for p in allowed)) if allowed else None
            return {k for k in keys if pattern is None or not pattern.search(k)}

        parts = []
        missing = outside(info.get("missing_keys", ()), cls._allowed_missing_on_load)
        unexpected = outside(info.get("unexpected_keys", ()), cls._allowed_unexpected_on_load)
        if missing:
            parts.append(f"{len(missing)} weight(s) missing from the checkpoint ({_listed(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} checkpoint weight(s) the model has no place for ({_listed(unexpected)})")
        mismatched = [] if allow_mismatch else sorted(info.get("mismatched_keys", ()))
        if mismatched:
            shapes = [f"{key} {tuple(saved)} in the checkpoint vs {tuple(expected)} in the model"
                      for key, saved, expected in mismatched[:_MAX_LISTED]]
            more = f" … ({len(mismatched) - _MAX_LISTED} more)" if len(mismatched) > _MAX_LISTED else ""
            parts.append(f"{len(mismatched)} weight(s) of another shape ({'; '.join(shapes)}{more})")
        return "; ".join(parts)


# ---- inputs --------------------------------------------------------------------------------------------

def check_input(model, value, *, name: str, shape: str, fix: str, ndim: int | tuple[int, ...] | None = None,
                finite: bool = True) -> torch.Tensor:
    """``value`` as the float tensor ``model``'s forward takes, else a ValueError naming ``name``, the
    expected ``shape`` (text, e.g. ``"(N, 1, 32, 32)"``) and ``fix``. Checks: a tensor, rank ``ndim``, a
    non-empty batch, a float dtype equal to the weights' (unless autocast is on), the weights' device,
    and (``finite``, in eval mode) no NaN/inf."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {shape}, got {type(value).__name__}; {fix}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if ranks is not None and value.ndim not in ranks:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}; {fix}")
    if value.ndim == 0 or value.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(value.shape)}); pass at least one row")
    if not value.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {value.dtype}; {fix}")
    weights = next(model.parameters(), None)
    if weights is not None:
        if value.device != weights.device:
            raise ValueError(f"{name} is on {value.device} but the model is on {weights.device}: pass "
                             f"{name}.to(model.device)")
        if value.dtype != weights.dtype and not torch.is_autocast_enabled(value.device.type):
            raise ValueError(f"{name} is {value.dtype} but the model's weights are {weights.dtype}: pass "
                             f"{name}.to(model.dtype) (or convert the model, model.to({value.dtype}))")
    if finite and not model.training and not torch.isfinite(value.detach().sum()):
        raise ValueError(f"{name} contain NaN or infinite values; clean them (e.g. torch.nan_to_num) or drop those rows")
    return value


def check_labels(labels, n: int, num_classes: int, *, owner: str, required: bool = True, name: str = "labels",
                 device=None):
    """``labels`` as (n,) long class ids in [0, num_classes) on ``device`` (None for an unconditional model), else a
    ValueError naming the argument: given to an unconditional model, missing for a conditional one,
    not integers, another length, out of range."""
    if not num_classes:
        if labels is not None:
            raise ValueError(f"this {owner} is unconditional (num_classes=0): do not pass {name}")
        return None
    if labels is None:
        if required:
            raise ValueError(f"this {owner} is class-conditional ({num_classes} classes): pass {name}= (N class ids)")
        return None
    if not isinstance(labels, torch.Tensor):
        try:
            labels = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be class ids (a LongTensor of shape ({n},)), got "
                             f"{type(labels).__name__}") from None
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name} must be integer class ids (torch.long), got dtype {labels.dtype}; convert with "
                         f"{name}.long()")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"{name} must have shape ({n},), one class id per row, got {tuple(labels.shape)}")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"{name} must be class ids in [0, {num_classes}) for this {owner}, got range [{lo}, {hi}]")
    return labels.long() if device is None else labels.long().to(device)
