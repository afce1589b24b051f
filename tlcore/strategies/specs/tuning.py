"""Specs of the fine-tuning family and the baselines: linear probe, fine-tuning, gradual unfreezing, from
scratch, multitask, distillation (torch-free; the implementations live in ``tlcore/strategies/<name>.py``)."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.errors import ConfigError
from tlcore.strategies.specs.base import Requirements, StrategySpec, param


@dataclass(frozen=True)
class LinearProbeParams:
    head_lr_scale: float = param(10.0, "Head learning rate = lr x this. The frozen features are cached, so a "
                                       "larger step is safe and epochs cost almost nothing.", min=0.01, max=1000.0)


@dataclass(frozen=True)
class FineTuningParams:
    trainable_groups: int = param(0, "Layer groups to train, counted from the top (0 = the whole backbone). The "
                                     "freezing knob; freeze_backbone and train_last_groups are shorthands for its "
                                     "cached cases (set one of the three).", min=0, max=100)
    backbone_lr_factor: float = param(0.1, "Backbone learning rate = lr x this (the head uses lr).",
                                      min=0.0, max=10.0)
    freeze_backbone: bool = param(False, "Shorthand: no layer group trains; the features are computed once and "
                                         "cached, and only the bottleneck (run setting `bottleneck`) and the head "
                                         "train. Fast on CPU; alignment losses then act on the bottleneck.")
    train_last_groups: int = param(0, "Shorthand: trainable_groups N with the output of the frozen layers below "
                                      "them computed once and cached (0 = off). Much faster than fine-tuning the "
                                      "whole backbone on a CPU.", min=0, max=100)


@dataclass(frozen=True)
class GradualUnfreezingParams:
    unfreeze_every: int = param(1, "Unfreeze the next layer group from the top every this many epochs "
                                   "(epoch 1 trains the head only).", min=1, max=1000)
    unfreeze_epochs: str = param("", "Optional explicit schedule: comma-separated 1-based epochs at which the "
                                     "next group unfreezes, e.g. '2,3,5'. Overrides unfreeze_every.")
    lr_decay: float = param(2.6, "Discriminative learning rates: each lower layer group trains at the lr of "
                                 "the group above divided by this (ULMFiT uses 2.6).", min=1.0, max=100.0)


@dataclass(frozen=True)
class MultitaskParams(FineTuningParams):
    source_weight: float = param(1.0, "Weight of the source classification loss.", min=0.0, max=100.0)
    target_weight: float = param(1.0, "Weight of the classification loss on labeled target samples.",
                                 min=0.0, max=100.0)
    mcc_weight: float = param(0.0, "Weight of the MCC loss on every target sample, labeled or not (0 = none; the "
                                   "few-labels default uses 1: without it a few labels did worse than none, "
                                   "bench/results/active_labels.md).", min=0.0, max=100.0)
    temperature: float = param(2.5, "MCC's softmax temperature (only with mcc_weight > 0).", min=0.1, max=100.0)
    warmup: float = param(0.0, "Fraction of training over which the MCC term ramps linearly from 0 to mcc_weight "
                               "(the few-labels default copies the unlabelled MCC recipe's warm-up).",
                          min=0.0, max=1.0)


@dataclass(frozen=True)
class DistillationParams(FineTuningParams):
    teacher_run_id: str = param("", "Id of a completed run of this store whose model is the teacher (e.g. a "
                                    "fine-tuned larger backbone). Same modality and classes as this run.")
    temperature: float = param(4.0, "Softmax temperature T for the soft targets.", min=0.1, max=100.0)
    alpha: float = param(0.5, "Weight of the distillation loss; the source labels get 1 - alpha.",
                         min=0.0, max=1.0)


def parse_epochs(text: str) -> list[int]:
    """'2, 3,5' -> [2, 3, 5]; errors name ``params.unfreeze_epochs``."""
    try:
        out = sorted(int(t) for t in text.replace(";", ",").split(",") if t.strip())
    except ValueError:
        raise ConfigError(f"params.unfreeze_epochs: expected comma-separated epochs, got {text!r}") from None
    if any(e < 1 for e in out):
        raise ConfigError(f"params.unfreeze_epochs: epochs count from 1, got {text!r}")
    return out


def _check_schedule(params, store=None) -> None:
    parse_epochs(params.unfreeze_epochs)


def _check_teacher(params, store=None) -> None:
    """The teacher run must exist and have a saved model (its weights load later, in the job). Without a
    store only the parameters are checked."""
    from tlcore.runs.store import RunNotFound

    if params.freeze_backbone:
        raise ConfigError("params.freeze_backbone: distillation feeds the raw inputs to the teacher, so the "
                          "student cannot train on cached features; leave it off")
    run_id = params.teacher_run_id
    if not run_id:
        raise ConfigError("params.teacher_run_id: choose a completed run to distil from")
    if store is None:
        return
    try:
        ok = store.local(run_id, "model.safetensors").is_file()
    except RunNotFound:
        ok = False
    if not ok:
        raise ConfigError(f"params.teacher_run_id: run {run_id!r} not found or has no saved model in {store.root}")


LINEAR_PROBE = StrategySpec(
    name="linear_probe", title='Linear probe (frozen features + new head)',
    impl="tlcore.strategies.linear_probe:LinearProbe",
    Params=LinearProbeParams,
    requires=Requirements(backbone="frozen"),
    doc="""Feature extraction: the backbone stays frozen and only a new linear head trains.

    The frozen features are computed once and cached by the loop, so every epoch after the first costs
    almost nothing. Reference: Yosinski et al., "How transferable are features in deep neural
    networks?", NeurIPS 2014; Kornblith et al., "Do Better ImageNet Models Transfer Better?", CVPR 2019.""")


FINE_TUNING = StrategySpec(
    name="fine_tuning", title='Fine-tuning (full or top-N layer groups)',
    impl="tlcore.strategies.fine_tuning:FineTuning",
    Params=FineTuningParams,
    doc="""Full or partial fine-tuning of a pretrained backbone with a new head.

    Lower layers hold generic features and move less: the backbone trains at ``lr x backbone_lr_factor``.
    With ``trainable_groups = N`` only the top N layer groups train (partial fine-tuning). Reference:
    Yosinski et al., NeurIPS 2014; Howard & Ruder, "Universal Language Model Fine-tuning", ACL 2018.""")


GRADUAL_UNFREEZING = StrategySpec(
    name="gradual_unfreezing", title='Gradual unfreezing (ULMFiT, discriminative lrs)',
    impl="tlcore.strategies.gradual_unfreezing:GradualUnfreezing",
    Params=GradualUnfreezingParams,
    precheck_fn=_check_schedule,
    doc="""Fine-tuning that unfreezes the backbone's layer groups one at a time, from the top.

    The first epoch trains the new head only; then every ``unfreeze_every`` epochs (or at the epochs listed
    in ``unfreeze_epochs``) the next group down joins. Group ``d`` counted from the top (d = 1, 2, ...)
    trains at ``lr / lr_decay^d``, the head at ``lr``. Reference: Howard & Ruder, "Universal Language Model
    Fine-tuning for Text Classification", ACL 2018.""")


SCRATCH = StrategySpec(
    name="scratch", title='From scratch (random init baseline)',
    impl="tlcore.strategies.scratch:Scratch",
    requires=Requirements(backbone="random"),
    family='baseline',
    doc="""No transfer: the backbone architecture is randomly initialised and trained on the source only.

    It is the baseline that shows what pretraining buys; compare its target accuracy with the
    pretrained strategies on the Compare page.""")


MULTITASK = StrategySpec(
    name="multitask", title='Multitask (source + labeled target)',
    impl="tlcore.strategies.multitask:Multitask",
    Params=MultitaskParams,
    requires=Requirements(target="labeled"),
    family='semi-supervised',
    doc="""Joint training on the source and the labeled part of the target, one shared backbone and head.

    Loss: ``source_weight x CE(source) + target_weight x CE(labeled target) [+ mcc_weight x MCC(target)]``;
    only target samples whose label is usable (``m_t``, set by ``target.labeled_fraction``) count in the second
    term; MCC (minimum class confusion) acts on every target sample. Reference: Caruana, "Multitask
    Learning", Machine Learning 1997; Daume III, "Frustratingly Easy Domain Adaptation", ACL 2007; Jin et al.,
    "Minimum Class Confusion for Versatile Domain Adaptation", ECCV 2020.""")


DISTILLATION = StrategySpec(
    name="distillation", title='Knowledge distillation (from a teacher run)',
    impl="tlcore.strategies.distillation:Distillation",
    Params=DistillationParams,
    precheck_fn=_check_teacher,
    requires=Requirements(target="unlabeled"),
    doc="""Knowledge distillation: the student fits the teacher's softened predictions on source and unlabeled
    target, and the source labels.

    Loss: ``(1 - alpha) CE(source) + alpha T^2 KL(softmax(z_teacher / T) || softmax(z_student / T))`` over
    source and target samples. The teacher (a completed run, frozen, in eval mode) must read the same inputs:
    the same modality and, for text, the same tokenizer; image inputs are re-normalised to the teacher's
    mean/std. Reference: Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015.""")
