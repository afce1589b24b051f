"""One run across several processes: data parallel with ``torch.distributed`` (NCCL on GPUs, gloo on CPU).

A run asks for it with ``devices: N`` (N > 1). The job process is rank 0: it prepares data and model as
usual, then, for the training phase only, starts N-1 helper processes (``spawn``) that receive the configured
inputs (model, strategy, encoded data) and join a process group. Every rank runs the one loop
(tlcore/training/loop.py) with a :class:`Parallel` handle:

- the model is wrapped in ``DistributedDataParallel`` after the strategy's ``configure`` (gradients averaged
  in buckets during backward; buffers such as BatchNorm statistics broadcast from rank 0 at each forward);
- the loop's seeded global batches (the same on every rank) are split by stride, rank ``r`` taking
  ``idx[r::N]`` (each rank ``batch_size // N`` samples; a remainder is left out): disjoint shards as with
  ``DistributedSampler``, but the global order, the text length buckets and the epoch count stay those of a
  one-process run with the same ``batch_size``;
- a strategy's own modules (e.g. DANN's domain discriminator) start from rank 0's weights and have their
  gradients all-reduced after backward;
- the epoch record (losses, source-validation accuracy) is averaged over ranks, so early stopping and the
  best-weights restore decide the same on every rank.

Only rank 0 records (events, history, evaluation, model); helpers end with the training phase. GPU: rank r
uses ``cuda:r`` of the devices the job may see (the local executor gives a ``devices: N`` job N GPUs). CPU:
gloo, each rank with ``cores / N`` threads (for tests and checks; it does not speed up training on CPU).

Not covered, refused with a :class:`ConfigError` before any process starts: strategies that train on cached
frozen features (nothing heavy to parallelise), strategies that change which parameters train during the run
(gradual unfreezing: DDP fixes the trained set at wrap time), call parts of the model directly (knowledge
distillation) or update in several stages per batch (MCD: measured, its heads drift apart between ranks).
No out-of-memory batch halving in a DDP run (an OOM fails the run with the message).
"""
from __future__ import annotations

import os
import pickle
import socket
import traceback
from datetime import timedelta

from tlcore import settings
from tlcore.errors import ConfigError, TLError

BACKENDS = {"cuda": "nccl", "cpu": "gloo"}
REFUSED = {
    "gradual_unfreezing": "it unfreezes layers during training, and DistributedDataParallel fixes the trained "
                          "parameters when it wraps the model",
    "distillation": "it calls the model's backbone directly, outside the DistributedDataParallel wrapper",
    "mcd": "it updates in several stages per batch, and its classifier heads drift apart between the processes",
}


def precheck(cfg, name: str, caches_features: bool) -> None:
    """The refusals known from the strategy table (torch-free: tlcore/validation.py calls it at submit time)."""
    n = int(getattr(cfg, "devices", 1) or 1)
    if n <= 1:
        return
    if name in REFUSED:
        raise ConfigError(f"devices: {n} processes are not supported for strategy {name!r}: {REFUSED[name]}. "
                          "Use devices: 1.")
    if caches_features:
        raise ConfigError(f"devices: strategy {name!r} trains a head on cached frozen features; that is light work "
                          "for one process. Use devices: 1 (or a strategy that trains the backbone).")
    if cfg.batch_size < n:
        raise ConfigError(f"batch_size: {cfg.batch_size} is smaller than devices ({n}); each process needs at "
                          "least one sample of every batch (batch_size is the global batch).")


def check(cfg, strategy, device) -> None:
    """Raise :class:`ConfigError` (naming the setting) when this run cannot use ``devices: N``."""
    n = int(getattr(cfg, "devices", 1) or 1)
    if n <= 1:
        return
    precheck(cfg, strategy.name, strategy.caches_features)
    if _multi_stage(strategy):
        raise ConfigError(f"devices: strategy {strategy.name!r} updates in several stages per batch (parts of the model "
                          "outside the DistributedDataParallel wrapper), so the processes would drift apart. Use "
                          "devices: 1.")
    if device.type == "cuda":
        import torch

        if device.index not in (None, 0):
            raise ConfigError(f"device: {device} with devices: {n}; a data-parallel run uses cuda:0 ... cuda:{n - 1} "
                              "of the GPUs the job sees. Set device to auto or cuda.")
        if torch.cuda.device_count() < n:
            raise ConfigError(f"devices: {n} asked for but this job sees {torch.cuda.device_count()} GPU(s)")
    elif device.type != "cpu":
        raise ConfigError(f"devices: data parallel needs CUDA or the CPU, not {device.type}")


def _multi_stage(strategy) -> bool:
    """True for strategies that override ``training_steps`` (several forward/backward stages per batch, e.g.
    MCD): measured, their classifier heads drift apart between ranks."""
    from tlcore.strategies.base import Strategy

    own = getattr(type(strategy), "training_steps", None)
    return own is not None and own is not Strategy.training_steps


class Parallel:
    """What the loop asks of one rank: wrap, shard, sync gradients of extra modules, average the record."""

    def __init__(self, rank: int, world: int, device):
        self.rank, self.world, self.device = rank, world, device
        self.extra: list = []

    def wrap(self, model, strategy):
        import torch.distributed as dist

        self.extra = [p for m in strategy.extra_modules() for p in m.parameters()]
        for m in strategy.extra_modules():  # created in configure from each rank's own random state
            for t in [*m.parameters(), *m.buffers()]:
                dist.broadcast(t.data, src=0)
        if not any(p.requires_grad for p in model.parameters()):
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return _Wrapped(model, device_ids=ids)

    def shard(self, idx):
        """This rank's samples of a global batch: every rank the same count (``len // world``; a remainder of up
        to world - 1 samples is left out), so the averaged gradient is the whole batch's."""
        usable = len(idx) // self.world * self.world
        if usable == 0:
            raise TLError(f"a batch of {len(idx)} sample(s) cannot be split over {self.world} processes; use fewer "
                          "devices or more data")
        return idx[:usable][self.rank::self.world]

    def after_backward(self) -> None:
        import torch.distributed as dist

        for p in self.extra:
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(self.world)

    def mean(self, values: dict) -> dict:
        import torch
        import torch.distributed as dist

        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                         device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist())}


def _wrapped_class():
    from torch.nn.parallel import DistributedDataParallel

    class Wrapped(DistributedDataParallel):
        """DDP that answers attribute look-ups (``out_features``, ``backbone``...) from the wrapped model."""

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.module, name)

    return Wrapped


def _Wrapped(model, **kwargs):  # noqa: N802 - a factory standing for the class (torch imported lazily)
    return _wrapped_class()(model, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timeout(name: str = "TL_DDP_TIMEOUT", default: str = "600") -> timedelta:
    return timedelta(seconds=float(os.environ.get(name, default)))


def _init(rank: int, world: int, port: int, device) -> None:
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    # joining has its own, shorter limit: a helper that dies while starting fails the run in minutes, not after
    # the collective timeout, so a dead rank never holds the GPUs for long
    store = rendezvous_store(rank, world, port, _timeout("TL_DDP_JOIN_TIMEOUT", "180"))
    dist.init_process_group(BACKENDS[device.type], store=store, rank=rank, world_size=world, timeout=_timeout())


_LISTENERS: list = []  # rank 0's loopback listening sockets, kept open for the store's lifetime


def rendezvous_store(rank: int, world: int, port: int, timeout: timedelta):
    """The rendezvous store on loopback only. ``TCPStore("127.0.0.1", ...)`` with ``is_master`` binds its server
    to every interface (``*:port``: anyone on the network could write the unauthenticated store), the host name
    being only where clients connect; so rank 0 binds a socket to 127.0.0.1 itself and hands it over
    (``master_listen_fd``)."""
    import torch.distributed as dist

    if rank != 0:
        return dist.TCPStore("127.0.0.1", port, world, is_master=False, timeout=timeout)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    _LISTENERS.append(sock)
    return dist.TCPStore("127.0.0.1", sock.getsockname()[1], world, is_master=True, timeout=timeout,
                         master_listen_fd=sock.fileno(), use_libuv=True)


def _fit_kwargs(cfg) -> dict:
    return {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
            "seed": cfg.seed, "patience": cfg.early_stopping_patience, "checkpoint": cfg.checkpoint}


def _helper(rank: int, world: int, port: int, device_type: str, blob: bytes, errors) -> None:
    """A helper rank: the same fit on its shard of every batch; records nothing."""
    import torch
    import torch.distributed as dist

    from tlcore.training.callbacks import Control
    from tlcore.training.loop import fit

    try:
        device = torch.device(f"cuda:{rank}" if device_type == "cuda" else "cpu")
        model, strategy, data, kwargs = pickle.loads(blob)  # noqa: S301 - from the parent process, in memory
        _init(rank, world, port, device)
        fit(model.to(device), strategy, data, device=device, control=Control(), parallel=Parallel(rank, world, device),
            **kwargs)
        _save_for_tests(rank, model, strategy)
        dist.destroy_process_group()
    except BaseException as exc:  # noqa: BLE001 - reported to rank 0, then this process exits non-zero
        errors.put(f"rank {rank}: {type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}")
        raise SystemExit(1) from None


def fit_distributed(model, strategy, data, cfg, device, emit, callbacks, control):
    """``fit`` across ``cfg.devices`` processes; returns ``(FitResult, batch size)`` like the OOM wrapper.
    This process is rank 0 and keeps the trained model."""
    import multiprocessing

    import torch
    import torch.distributed as dist

    from tlcore.training.loop import fit

    check(cfg, strategy, device)
    if device.type == "cuda":
        device = torch.device("cuda", 0)  # rank r uses cuda:r of the GPUs this job sees
    world = int(cfg.devices)
    port = _free_port()
    model.to("cpu")
    blob = pickle.dumps((model, strategy, data, _fit_kwargs(cfg)), protocol=5)
    model.to(device)
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.SimpleQueue()
    helpers = [ctx.Process(target=_helper, args=(r, world, port, device.type, blob, errors), daemon=True,
                           name=f"tl-ddp-rank{r}") for r in range(1, world)]
    del blob
    emit({"type": "phase", "phase": f"training on {world} processes ({BACKENDS[device.type]})"})
    for p in helpers:
        p.start()
    try:
        _init(0, world, port, device)
        result = fit(model, strategy, data, device=device, callbacks=callbacks, control=control,
                     parallel=Parallel(0, world, device), **_fit_kwargs(cfg))
        dist.destroy_process_group()
        for p in helpers:
            p.join(timeout=60)
        failed = [p for p in helpers if p.exitcode != 0]
        if failed:
            raise TLError(_helper_error(errors) or f"a data-parallel helper process exited with {failed[0].exitcode}")
        _save_for_tests(0, model, strategy)
        return result, cfg.batch_size
    except TLError:
        raise
    except RuntimeError as exc:  # a collective timed out or a peer vanished: name the helper's own error
        why = _helper_error(errors) or _exits(helpers)
        raise TLError(f"data-parallel training failed: {why or exc}") from exc
    finally:
        for p in helpers:
            if p.is_alive():
                p.terminate()
            p.join(timeout=10)
        if dist.is_initialized():
            dist.destroy_process_group()


def _save_for_tests(rank: int, model, strategy) -> None:
    """With ``TL_DDP_RESULT_DIR`` set (tests), each rank's final weights, the strategy's modules included."""
    folder = settings.get("TL_DDP_RESULT_DIR")
    if folder:
        import torch

        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        for i, m in enumerate(strategy.extra_modules()):
            state.update({f"strategy.{i}.{k}": v.detach().cpu() for k, v in m.state_dict().items()})
        torch.save(state, os.path.join(folder, f"rank{rank}.pt"))


def _exits(helpers) -> str | None:
    """'rank 1 exited with code -9 (killed: out of memory?)' for helpers that ended without reporting."""
    for p in helpers:
        p.join(timeout=5)
    dead = [(i + 1, p.exitcode) for i, p in enumerate(helpers) if p.exitcode not in (None, 0)]
    return "; ".join(f"rank {r} exited with code {c}" + (" (killed: out of memory?)" if c in (-9, 9, 137) else "")
                     for r, c in dead) or None


def _helper_error(errors) -> str | None:
    try:
        return None if errors.empty() else errors.get()
    except (OSError, EOFError):
        return None
