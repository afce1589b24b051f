"""Knowledge distillation from a completed run (the teacher) into the student backbone."""
from __future__ import annotations


import torch
from torch import nn

from tlcore.errors import ConfigError
from tlcore.losses.distillation import DistillationLoss
from tlcore.strategies.alignment import classification, forward_pair
from tlcore.strategies.base import SetupContext, StepOutput, freeze
from tlcore.strategies.fine_tuning import FineTuning
from tlcore.strategies.specs import tuning


def load_teacher(run_id: str, num_classes: int, store) -> nn.Module:
    """A completed run's model, rebuilt from its artifact (``model.json`` + ``model.safetensors``, see
    :mod:`tlcore.models.io`), frozen and in eval mode.

    Args:
        run_id: the teacher run.
        num_classes: the student's class count (must match the teacher's).
        store: the :class:`~tlcore.runs.store.RunStore` holding the teacher run.
    """
    from tlcore.errors import ModelError
    from tlcore.models.io import load_run_model
    from tlcore.runs.store import RunNotFound

    if not run_id:
        raise ConfigError("params.teacher_run_id: choose a completed run to distil from")
    if store is None:
        raise ConfigError("params.teacher_run_id: no run store was given to look the teacher up in")
    try:
        loaded = load_run_model(store, run_id)
    except RunNotFound:
        raise ConfigError(f"params.teacher_run_id: run {run_id!r} not found in {store.root}") from None
    except ModelError as exc:
        raise ConfigError(f"params.teacher_run_id: could not load the teacher: {exc}"[:500]) from None
    if len(loaded.classes) != num_classes:
        raise ConfigError(f"params.teacher_run_id: the teacher predicts {len(loaded.classes)} classes, this run "
                          f"has {num_classes}")
    teacher = loaded.model
    freeze(teacher, True)
    return teacher.eval()


class Distillation(FineTuning):
    spec = tuning.DISTILLATION

    def __init__(self, params=None):
        super().__init__(params)
        self.store = None
        self.teacher_: nn.Module | None = None

    def bind_store(self, store) -> None:
        self.store = store

    def configure(self, model, ctx: SetupContext):
        teacher = load_teacher(self.params.teacher_run_id, ctx.num_classes, self.store)
        s_bb, t_bb = model.backbone, teacher.backbone
        if s_bb.modality != t_bb.modality:
            raise ConfigError(f"params.teacher_run_id: the teacher is a {t_bb.modality} model, the student a "
                              f"{s_bb.modality} model")
        if s_bb.modality == "text" and _tok_name(s_bb) != _tok_name(t_bb):
            raise ConfigError("params.teacher_run_id: teacher and student use different tokenizers "
                              f"({_tok_name(t_bb)} vs {_tok_name(s_bb)}); distil between text backbones that "
                              "share one")
        self.teacher_ = teacher.to(ctx.device)
        return super().configure(model, ctx)

    def extra_modules(self):
        return [self.teacher_] if self.teacher_ is not None else []

    def _teacher_logits(self, model, x):
        t = self.teacher_
        t.eval()
        if torch.is_tensor(x) and x.dim() == 4:
            s_mean, s_std = _stats(model.backbone, x)
            t_mean, t_std = _stats(t.backbone, x)
            x = ((x * s_std + s_mean) - t_mean) / t_std
        with torch.no_grad():
            return t(x)[1].float()

    def training_step(self, model, batch, state):
        p = self.params
        kd = DistillationLoss(p.temperature)
        has_t = "x_t" in batch
        if has_t:
            f_s, logits_s, f_t, logits_t = forward_pair(model, batch["x_s"], batch["x_t"])
        else:
            f_s, logits_s = model(batch["x_s"])
        cls_loss, acc = classification(logits_s, batch["y_s"])
        kd_s = kd(logits_s, self._teacher_logits(model, batch["x_s"]))
        kd_loss, n = kd_s * len(logits_s), len(logits_s)
        if has_t:
            kd_loss = kd_loss + kd(logits_t, self._teacher_logits(model, batch["x_t"])) * len(logits_t)
            n += len(logits_t)
        kd_loss = kd_loss / n
        loss = (1 - p.alpha) * cls_loss + p.alpha * kd_loss
        return StepOutput(loss, {"cls_loss": float(cls_loss.detach()), "transfer_loss": float(kd_loss.detach()),
                                 "train_acc": acc})


def _tok_name(bb) -> str:
    tok = getattr(bb, "tokenizer", None)
    return f"{type(tok).__name__}:{getattr(tok, 'name_or_path', '')}:{getattr(tok, 'vocab_size', '')}"


def _stats(bb, x):
    mean = torch.tensor(bb.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(bb.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return mean, std
