"""How much memory training takes: measured, on a GPU or on a CPU.

    with PeakMemory() as peak:
        trainer.step(...)
    print(peak.gb, peak.how)

On a CUDA GPU the peak is PyTorch's own: ``torch.cuda.max_memory_allocated``. A CPU has no such
counter (the process's resident size mixes in Python, libraries and freed-but-kept pages), so on
a CPU the peak is counted the way the CUDA allocator counts: the bytes of every tensor storage
alive at once, followed op by op through a ``TorchDispatchMode``. Tensors that exist before the
measurement starts (weights, optimizer states) are counted from the objects passed in.

Between two trainings, ``free_trainer(trainer)`` lets go of what the finished one no longer needs.
"""

from __future__ import annotations

import gc
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from helpers.memory.estimate import GB


def tensor_bytes(*objects, trainable_only: bool = False) -> int:
    """Bytes of the distinct tensor storages in modules, optimizers, tensors or lists of them.

    >>> tensor_bytes(torch.nn.Linear(10, 10))  # 110 float32 numbers
    440
    """
    return sum(storage.nbytes() for storage in _storages(objects, trainable_only).values())


def _storages(objects, trainable_only: bool = False) -> dict:
    return {
        t.untyped_storage().data_ptr(): t.untyped_storage()
        for t in _tensors(objects, trainable_only)
    }


def _tensors(objects, trainable_only: bool):
    for item in objects:
        if item is None:
            continue
        if isinstance(item, torch.nn.Module):
            for parameter in item.parameters():
                if parameter.requires_grad or not trainable_only:
                    yield parameter
                    if parameter.grad is not None:
                        yield parameter.grad
            if not trainable_only:
                yield from item.buffers()
        elif isinstance(item, torch.optim.Optimizer):
            for state in item.state.values():
                yield from (v for v in state.values() if isinstance(v, torch.Tensor))
        elif isinstance(item, torch.Tensor):
            yield item
        elif isinstance(item, (list, tuple)):
            yield from _tensors(item, trainable_only)
        else:
            raise TypeError(
                f"Cannot count the memory of a {type(item).__name__}: pass modules, "
                "optimizers or tensors."
            )


class _LiveStorages(TorchDispatchMode):
    """Counts the bytes of tensor storages created inside it while they are alive; keeps the
    peak."""

    def __init__(self, existing: dict):
        super().__init__()
        self.current = self.peak = 0
        self._alive: dict[int, int] = {}
        for storage in existing.values():  # counted once, even when an in-place op hands them back
            self._track(storage)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(output)[0]:
            if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
                self._track(tensor.untyped_storage())
        return output

    def _track(self, storage) -> None:
        key = storage.data_ptr()
        if key in self._alive or storage.nbytes() == 0:
            return
        self._alive[key] = storage.nbytes()
        self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self._alive.pop(key, 0)


class PeakMemory:
    """Peak memory of the code inside ``with PeakMemory(model, optimizer) as peak:``, in
    ``peak.bytes``.

    Pass what already exists and stays alive (models, optimizers): on a CPU those are counted from
    the objects, on a GPU they are already in the allocator's count. ``device`` defaults to CUDA
    when it is available.
    """

    def __init__(self, *existing, device: str | None = None):
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.existing = existing
        self.bytes = 0
        self.how = ""

    def __enter__(self) -> PeakMemory:
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.how = "CUDA peak allocated (torch.cuda.max_memory_allocated)"
        else:
            self._mode = _LiveStorages(_storages(self.existing))
            self._mode.__enter__()
            self.how = "peak bytes of live tensors, counted op by op (CPU)"
        return self

    def __exit__(self, *exc) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.bytes = torch.cuda.max_memory_allocated()
        else:
            self._mode.__exit__(*exc)
            self.bytes = self._mode.peak
        self.existing = ()  # a kept result must not keep the models and optimizer alive

    @property
    def gb(self) -> float:
        return self.bytes / GB


def peak_memory_callback(step: int = 2, frozen: tuple = ()):
    """A ``transformers`` TrainerCallback that measures the peak of one optimizer step (the second
    by default: the first also creates the optimizer's states). ``frozen``: other models that stay
    in memory and that the trainer does not hand to callbacks (a reward model), counted on a CPU;
    add one the trainer builds itself with ``callback.frozen += (trainer.ref_model,)`` before
    training. After training: ``callback.peak`` (a PeakMemory, or None if training stopped before
    that step)."""
    from transformers import TrainerCallback

    class PeakMemoryCallback(TrainerCallback):
        def __init__(self):
            self.peak = None
            self.frozen = tuple(frozen)
            self._active = None

        def on_step_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
            if state.global_step == step - 1 and self.peak is None:
                optimizer = getattr(
                    optimizer, "optimizer", optimizer
                )  # accelerate wraps the torch optimizer
                self._active = PeakMemory(model, optimizer, *self.frozen)
                self._active.__enter__()

        def on_step_end(self, args, state, control, **kwargs):
            self._finish()

        def on_train_end(self, args, state, control, **kwargs):
            self._finish()  # training stopped inside the measured step

        def _finish(self):
            if self._active is not None:
                self._active.__exit__(None, None, None)
                self.peak, self._active = self._active, None

    return PeakMemoryCallback()


def free_trainer(trainer, model_to: str | None = None) -> int:
    """Let go of what a finished ``transformers``/TRL trainer holds besides its model and its logs.

    Drops its optimizer (AdamW's states: 8 bytes per trained parameter), learning-rate scheduler,
    gradients, the reference model it holds (``ref_model``: one it loaded itself is freed, one you
    passed stays yours) and accelerate's references to them all; gives its models their own
    ``forward`` back (under mixed precision accelerate wraps it in autocast); moves the model to
    ``model_to`` if given ("cpu": kept for later use, off the GPU); then ``gc.collect()`` and, with
    CUDA, ``torch.cuda.empty_cache()``. ``trainer.model``, ``trainer.state.log_history`` and
    ``trainer.save_model`` still work. Returns the bytes of optimizer states and gradients it freed.
    """
    optimizer = getattr(trainer, "optimizer", None)
    optimizer = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
    model, reference = trainer.model, getattr(trainer, "ref_model", None)
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    freed = tensor_bytes(
        gradients, *([optimizer] if isinstance(optimizer, torch.optim.Optimizer) else [])
    )
    if isinstance(optimizer, torch.optim.Optimizer):
        optimizer.state.clear()  # freed even where something else still holds the optimizer
    model.zero_grad(set_to_none=True)
    trainer.optimizer = trainer.lr_scheduler = None
    handler = getattr(trainer, "callback_handler", None)  # hands the optimizer to every callback
    if handler is not None:
        handler.optimizer = handler.lr_scheduler = None
    accelerator = getattr(trainer, "accelerator", None)
    if accelerator is not None:
        # its lists of prepared models, optimizers, schedulers, data loaders
        accelerator.free_memory()
    if hasattr(trainer, "ref_model"):
        trainer.ref_model = None
    if (
        getattr(trainer, "_buffered_inputs", None) is not None
    ):  # GRPO/RLOO: the last generation batch
        trainer._buffered_inputs = None
    for module in (model, reference):
        if isinstance(module, torch.nn.Module):
            _unprepare(module)
    if model_to is not None:
        model.to(model_to)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return freed


def _unprepare(module: torch.nn.Module) -> None:
    """Undo ``Accelerator.prepare_model``'s wrapping of ``forward`` (autocast under mixed
    precision)."""
    original = module.__dict__.pop("_original_forward", None)
    if getattr(original, "__func__", None) is type(module).forward:
        module.__dict__.pop("forward", None)  # the class's own again
    elif original is not None:
        module.forward = (
            original  # e.g. TRL's fused LM head, itself a wrapper of the class's forward
        )
    module.__dict__.pop("_is_accelerate_prepared", None)
