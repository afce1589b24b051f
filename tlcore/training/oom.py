"""The OOM retry wrapper around :func:`tlcore.training.loop.fit`: halve the batch size and start over.

torch is imported inside the functions, so importing this module stays light.
"""
from __future__ import annotations

from tlcore.errors import TLError

MIN_OOM_BATCH = 1


def is_out_of_memory(exc: BaseException) -> bool:
    """A GPU (or allocator) out-of-memory error, whatever wrapper raised it."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def fit_with_oom_retry(model, strategy, data, cfg, device, emit, callbacks, control):
    """``fit`` that halves the batch size and starts over (from the same initial weights) when the GPU runs
    out of memory, down to 1. Returns ``(FitResult, batch size used)``; the reduction is reported as a phase
    event ("Batch size reduced 64 -> 32 due to GPU memory") and recorded in the metrics. A run with
    ``devices: N`` (N > 1) trains data parallel instead (tlcore/training/ddp.py; no batch halving there)."""
    if int(getattr(cfg, "devices", 1) or 1) > 1:
        from tlcore.training.ddp import fit_distributed

        return fit_distributed(model, strategy, data, cfg, device, emit, callbacks, control)
    import copy
    import gc

    import torch

    from tlcore.training.loop import fit

    initial = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
    batch = cfg.batch_size
    tried = []
    while True:
        tried.append(batch)
        try:
            return fit(model, strategy, data, epochs=cfg.epochs, batch_size=batch, lr=cfg.lr,
                       weight_decay=cfg.weight_decay, device=device, seed=cfg.seed,
                       patience=cfg.early_stopping_patience, checkpoint=cfg.checkpoint, callbacks=callbacks,
                       control=control), batch
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
        # out of memory; cleaned up outside the except block, so the failed step's frames can be freed
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if batch <= MIN_OOM_BATCH:
            raise TLError(f"No batch size fits in GPU memory (tried {', '.join(map(str, tried))}); use a "
                          "smaller image size / max length, a smaller backbone, or a freer GPU")
        new = max(MIN_OOM_BATCH, batch // 2)
        emit({"type": "phase", "phase": f"Batch size reduced {batch} -> {new} due to GPU memory"})
        batch = new
        model.load_state_dict(initial)
