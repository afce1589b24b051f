"""Multitask learning on source and labeled target with a shared backbone."""
from __future__ import annotations


from torch.nn import functional as F

from tlcore.strategies.alignment import classification, forward_pair
from tlcore.strategies.base import StepOutput
from tlcore.strategies.fine_tuning import FineTuning
from tlcore.strategies.specs import tuning


class Multitask(FineTuning):
    spec = tuning.MULTITASK

    def training_step(self, model, batch, state):
        p = self.params
        f_s, logits_s, f_t, logits_t = forward_pair(model, batch["x_s"], batch["x_t"])
        src_loss, acc = classification(logits_s, batch["y_s"])
        m_t = batch["m_t"]
        if bool(m_t.any()):
            tgt_loss = F.cross_entropy(logits_t[m_t].float(), batch["y_t"][m_t])
            tgt_acc = float((logits_t[m_t].argmax(1) == batch["y_t"][m_t]).float().mean())
        else:
            tgt_loss, tgt_acc = logits_t.sum() * 0.0, float("nan")
        loss = p.source_weight * src_loss + p.target_weight * tgt_loss
        logs = {"cls_loss": float(src_loss.detach()), "target_cls_loss": float(tgt_loss.detach()),
                "train_acc": acc, "target_labeled": float(m_t.float().sum())}
        if p.mcc_weight > 0:  # the few-labels default: MCC on the whole target batch beside the labels
            from tlcore.losses.mcc import MinimumClassConfusionLoss

            mcc = MinimumClassConfusionLoss(p.temperature)(logits_t)
            ramp = min(1.0, state.progress / p.warmup) if p.warmup > 0 else 1.0  # as the MCC strategy's warm-up
            loss = loss + p.mcc_weight * ramp * mcc
            logs["mcc_loss"] = float(mcc.detach())
            if p.warmup > 0:
                logs["mcc_ramp"] = ramp
        if tgt_acc == tgt_acc:
            logs["target_train_acc"] = tgt_acc
        return StepOutput(loss, logs)
