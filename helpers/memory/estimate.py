"""How much memory a training setup needs, before you start it: a breakdown by component.

    est = estimate(Step("sft", "gpt2", batch_size=8, seq_len=512, precision="fp16"))
    print(est)          # a table: weights, optimizer states, activations, logits, ... total
    est.plot()          # the same as a bar chart

The numbers come from the model's architecture (its config: parameters, layers, hidden size,
vocabulary) and the setup (batch, lengths, precision, LoRA, 4-bit, the extra models each
algorithm holds). The per-token activation sizes were measured on GPT-2 and Qwen2 layers with
``helpers.memory.PeakMemory`` and are checked by ``python -m course_tools.memory_check``.

A training step's memory peaks in one of three phases, and the estimate reports the largest:

- *backward*: everything saved by the forward pass (activations, logits) plus the gradient of the
  logits, just as the backward pass starts; with gradient accumulation, every micro-batch after the
  first runs its backward with all the gradients of the earlier ones already allocated (fp32);
- *update*: every gradient at once plus the optimizer's temporaries (and, for tied input/output
  embeddings, the two embedding gradients being summed; with accumulation their sum too, before it
  is added to the gradient kept from the earlier micro-batches);
- *generation* (PPO, GRPO): the key/value cache of all sequences generated at once.

Weights, frozen models and optimizer states are alive in all three.
"""

from __future__ import annotations

import json
from dataclasses import KW_ONLY, dataclass, field
from functools import cache
from pathlib import Path

from helpers.tiny import TINY_MODELS, build

GB = 1024**3
CONFIGS_FILE = Path(__file__).with_name("model_configs.json")

# Bytes saved for the backward pass per token, per decoder layer, per unit of hidden size.
# Measured with PeakMemory on GPT-2 and Qwen2 layers (both: 30 fp32 numbers per hidden unit);
# 16-bit is not half of fp32 because layer norms and softmax keep some fp32 tensors.
ACTIVATION_BYTES_PER_HIDDEN = {"fp32": 120, "fp16": 66, "bf16": 66}
# Attention without a fused kernel (a CPU with attention dropout on) keeps ~3 fp32 numbers per
# head per pair of positions: scores, probabilities and the dropout mask.
ATTENTION_SCORE_BYTES = 12
# bitsandbytes NF4 with double quantisation: 4 bits plus ~0.13 bits of block scales per weight.
WEIGHT_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "16-bit": 2, "8-bit": 1.03, "4-bit": 0.52}
OPTIMIZER_BYTES = {"adamw": 8, "adamw_fused": 8, "adamw_8bit": 2}  # per trainable parameter
PEFT_DEFAULT_TARGETS = {"gpt2": ("c_attn",), "qwen2": ("q_proj", "v_proj")}
KINDS = ("sft", "ppo", "grpo")
CHUNK_TOKENS, CHUNK_WORDS = 4096, 32768  # TRL's fused LM head: one tile of logits at a time
# Tile-sized tensors alive at once in its backward pass: measured on a CPU (PyTorch fallback); a GPU
# runs the tiles through Triton kernels, which need fewer (an assumption, not yet measured).
CHUNK_TILES = {"cpu": 8, "cuda": 4}
ENCODERS = {"bert", "distilbert", "roberta", "xlm-roberta", "mpnet", "electra", "deberta-v2"}


class MemoryInputError(ValueError):
    """A size or setting the estimate cannot use, with what to pass instead."""


@dataclass(frozen=True)
class ModelSpec:
    """What memory needs to know about a model: sizes from its config, counts from its modules."""

    name: str
    parameters: int
    linear_parameters: int = 0  # weights of the layers' linear maps: what 8-bit/4-bit quantises
    largest_parameter: int = 0
    hidden_size: int = 0
    num_layers: int = 0
    num_heads: int = 0
    kv_size: int = 0  # key (or value) numbers per token per layer: kv heads x head size
    vocab_size: int = 0
    tied_embeddings: bool = False
    lora_per_rank: dict = field(default_factory=dict)  # targets -> LoRA parameters per unit of rank
    rough: bool = False  # sizes guessed from a parameter count

    def lora_parameters(self, rank: int, targets: str = "default") -> int:
        if targets not in self.lora_per_rank:
            raise MemoryInputError(
                f"No LoRA layout {targets!r} for {self.name}; known: {sorted(self.lora_per_rank)}."
            )
        return rank * self.lora_per_rank[targets]


@cache
def known_configs() -> dict:
    """The configs of the course's models, written into the package: no download needed."""
    return json.loads(CONFIGS_FILE.read_text())


def model_spec(model=None, *, parameters: int | None = None) -> ModelSpec:
    """A ModelSpec from a course model id, a folder with config.json, a transformers config, a
    hub id (online), or, for anything else, ``parameters=`` (a rough shape is assumed)."""
    if isinstance(model, ModelSpec):
        return model
    if model is None and parameters is None:
        raise MemoryInputError(
            "Pass a model (course model id, folder, config) or parameters=<count>."
        )
    if model is None:
        return _spec_from_count(int(parameters))
    if isinstance(model, (str, Path)):
        return _spec_from_name(str(model))
    return _spec_from_config(model, getattr(model, "name_or_path", "") or type(model).__name__)


@cache
def _spec_from_name(name: str) -> ModelSpec:
    from transformers import AutoConfig

    if name in known_configs():
        values = dict(known_configs()[name])
        return _spec_from_config(AutoConfig.for_model(values.pop("model_type"), **values), name)
    folder = build(name) if name in TINY_MODELS else Path(name)
    if (folder / "config.json").exists():
        return _spec_from_config(
            AutoConfig.from_pretrained(folder), name if name in TINY_MODELS else folder.name
        )
    try:
        config = AutoConfig.from_pretrained(name)
    except Exception as error:
        raise MemoryInputError(
            f"No config for {name!r}: not a course model ({', '.join(known_configs())}), "
            "not a folder with config.json, and the hub did not answer "
            f"({type(error).__name__}).\nPass the parameter count instead, e.g. "
            "Step(..., model=None, parameters=124_000_000), for a rougher estimate."
        ) from None
    return _spec_from_config(config, name)


def _spec_from_config(config, name: str) -> ModelSpec:
    """Count parameters by building the model on the meta device (no memory, no download)."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D

    with torch.device("meta"):
        if config.model_type in ENCODERS:
            model = AutoModel.from_config(config)
        else:
            model = AutoModelForCausalLM.from_config(config)
    linear = {
        n: m
        for n, m in model.named_modules()
        if isinstance(m, (torch.nn.Linear, Conv1D))
        and not n.endswith(("lm_head", "score", "classifier"))
    }
    in_out = {n: sum(m.weight.shape) for n, m in linear.items()}
    targets = PEFT_DEFAULT_TARGETS.get(config.model_type, ())
    hidden, heads = config.hidden_size, config.num_attention_heads
    return ModelSpec(
        name=name,
        parameters=sum(p.numel() for p in model.parameters()),
        linear_parameters=sum(m.weight.numel() for m in linear.values()),
        largest_parameter=max(p.numel() for p in model.parameters()),
        hidden_size=hidden,
        num_layers=config.num_hidden_layers,
        num_heads=heads,
        kv_size=(getattr(config, "num_key_value_heads", None) or heads) * (hidden // heads),
        vocab_size=config.vocab_size,
        tied_embeddings=bool(getattr(config, "tie_word_embeddings", False))
        and hasattr(model, "lm_head"),
        lora_per_rank={
            "all-linear": sum(in_out.values()),
            "default": sum(v for n, v in in_out.items() if n.split(".")[-1] in targets),
        },
    )


def _spec_from_count(parameters: int) -> ModelSpec:
    """A GPT-2-shaped guess: 12 x layers x hidden^2 weights in the layers, hidden = 64 x layers,
    a 50k vocabulary. Weights, gradients and optimizer states are exact; activations are rough."""
    if parameters <= 0:
        raise MemoryInputError(f"parameters must be a positive count, not {parameters}.")
    vocab = 50257
    hidden = 64
    while 12 * (hidden // 64) * hidden**2 + vocab * hidden < parameters:
        hidden += 64
    layers = hidden // 64
    return ModelSpec(
        name=f"{parameters / 1e6:.0f}M-parameter model",
        parameters=parameters,
        linear_parameters=max(0, parameters - vocab * hidden),
        largest_parameter=vocab * hidden,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=hidden // 64,
        kv_size=hidden,
        vocab_size=vocab,
        tied_embeddings=True,
        lora_per_rank={"all-linear": 16 * hidden * layers, "default": 4 * hidden * layers},
        rough=True,
    )


@dataclass
class MemoryEstimate:
    """The estimated peak, as the parts alive at that moment (``parts``: name -> bytes)."""

    parts: dict
    phase: str
    phases: dict  # phase -> bytes at its peak
    persistent: tuple = ()  # the parts alive in every phase
    notes: list = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return int(sum(self.parts.values()))

    @property
    def weights_bytes(self) -> int:
        """The trained and frozen models' weights (parts alive in every phase but the
        optimizer's)."""
        return int(
            sum(
                v for k, v in self.parts.items() if k in self.persistent and k != "optimizer states"
            )
        )

    @property
    def gb(self) -> float:
        return self.bytes / GB

    def table(self) -> list[tuple[str, float]]:
        """(part, GB) rows, then the total."""
        return [(name, round(value / GB, 3)) for name, value in self.parts.items() if value] + [
            ("total", round(self.gb, 3))
        ]

    def __str__(self) -> str:
        rows = "\n".join(f"  {name:<34}{gb:8.3f} GB" for name, gb in self.table())
        return f"Estimated peak ({self.phase} phase):\n{rows}" + "".join(
            f"\n  note: {n}" for n in self.notes
        )

    def plot(self, ax=None, title: str = ""):
        """One stacked bar: the parts of the peak, left to right; returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 2.4))
        left = 0.0
        for name, gb in self.table()[:-1]:
            ax.barh([0], [gb], left=left, label=f"{name} ({gb:.2f})")
            left += gb
        ax.set_yticks([])
        ax.set_xlabel("GB")
        ax.set_title(title or f"Estimated peak: {self.gb:.2f} GB ({self.phase})")
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, fontsize="small", frameon=False
        )
        return ax


def _positive(**values) -> None:
    for name, value in values.items():
        if value is not None and (not isinstance(value, (int, float)) or value <= 0):
            raise MemoryInputError(f"{name} must be a positive number, not {value!r}.")


def _whole_at_least_one(name: str, value) -> int:
    whole = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and float(value).is_integer()
    )
    if not whole or value < 1:
        raise MemoryInputError(
            f"{name} must be a whole number of at least 1 (1: no accumulation), not {value!r}."
        )
    return int(value)


@dataclass(frozen=True)
class Step:
    """One training step of ``kind`` ("sft", "ppo", "grpo"), as the memory estimate sees it: what
    is trained, on what batch, how, and what else the algorithm holds. Checked when it is made.

    >>> Step("sft", "gpt2", batch_size=8, seq_len=512, precision="fp16")

    - ``batch_size``: sequences per forward/backward pass (PPO: the mini-batch; GRPO: completions
      per device); ``seq_len`` tokens each (default: prompt_len + completion_len).
    - ``precision``: "fp32", or "fp16"/"bf16" mixed precision on a GPU (trainable weights stay
      fp32).
    - ``weights``: how the trained model's own weights are stored: "fp32", "16-bit", "8-bit",
      "4-bit" (the last three only with LoRA, as in the notebooks).
    - ``lora_rank``: train LoRA adapters of this rank on ``lora_targets`` ("default" or
      "all-linear").
    - ``optimizer``: "adamw_fused" (today's Trainer default), "adamw" (plain torch, TRL 0.11's PPO),
      "adamw_8bit" (bitsandbytes).
    - ``attention_dropout``: on a CPU, attention with dropout keeps the full score matrices.
    - PPO/GRPO: ``prompt_len``, ``completion_len``, ``generation_batch`` (sequences generated at
      once), ``reference`` (None, "copy": a frozen copy of the policy, "adapters-off": LoRA's base),
      ``value_head`` (PPO's), ``frozen_models`` (reward model, sentence encoder: ids or specs, or
      ``(label, id)`` pairs; a model held twice counts twice), ``frozen_weights`` ("fp32" or
      "16-bit") for the reference and frozen models, ``reference_weights`` for the reference alone
      where it differs (03 keeps it in fp32, like its policy).
    - ``logits``: "full" (the model's own loss, a plain PyTorch loop, TRL 0.11) materialises batch x
      length x vocabulary; "chunked" (today's SFTTrainer, GRPOTrainer and DPOTrainer) projects the
      LM head in tiles of at most 4096 tokens x 32768 words; "none": a reward model's one-number
      head (``kind="sft"``, chosen and rejected counted in ``batch_size``).
    - ``gradient_accumulation_steps``: micro-batches per optimizer step. Above 1, the backward
      passes after the first run with every trainable parameter's fp32 gradient alive.
    """

    kind: str
    model: object = None  # a course model id, a folder, a config or a ModelSpec
    _: KW_ONLY
    batch_size: int
    parameters: int | None = None  # instead of a model: a count (a rough shape is assumed)
    # the batch
    seq_len: int | None = None
    prompt_len: int = 0
    completion_len: int = 0
    generation_batch: int | None = None
    gradient_accumulation_steps: int = 1
    # how it trains
    precision: str = "fp32"
    device: str = "cuda"
    weights: str = "fp32"
    lora_rank: int | None = None
    lora_targets: str = "default"
    optimizer: str = "adamw_fused"
    gradient_checkpointing: bool = False
    attention_dropout: bool = False
    logits: str = "full"
    # what else it holds
    reference: str | None = None
    reference_weights: str | None = None
    value_head: bool | None = None
    frozen_models: tuple = ()
    frozen_weights: str = "fp32"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise MemoryInputError(f"kind must be one of {KINDS}, not {self.kind!r}.")
        _positive(
            batch_size=self.batch_size,
            seq_len=self.length,
            lora_rank=self.lora_rank,
            generation_batch=self.generation_batch,
        )
        _whole_at_least_one("gradient_accumulation_steps", self.gradient_accumulation_steps)
        if self.kind != "sft":
            _positive(completion_len=self.completion_len)
        for name, allowed in (
            ("precision", ACTIVATION_BYTES_PER_HIDDEN),
            ("weights", WEIGHT_BYTES),
            ("frozen_weights", WEIGHT_BYTES),
            ("optimizer", OPTIMIZER_BYTES),
        ):
            if getattr(self, name) not in allowed:
                raise MemoryInputError(
                    f"{name} must be one of {sorted(allowed)}, not {getattr(self, name)!r}."
                )
        if self.logits not in ("full", "chunked", "none"):
            raise MemoryInputError(
                f"logits must be 'full', 'chunked' or 'none', not {self.logits!r}."
            )
        if self.weights != "fp32" and not self.lora_rank:
            raise MemoryInputError(
                f"weights={self.weights!r} cannot be trained directly: pass lora_rank (e.g. 16) "
                "as well."
            )

    @property
    def length(self) -> int:
        """Tokens per sequence."""
        return self.seq_len or (self.prompt_len + self.completion_len)

    @property
    def mixed(self) -> bool:
        """16-bit mixed precision (on a GPU only)."""
        return self.precision != "fp32" and self.device == "cuda"

    @property
    def has_value_head(self) -> bool:
        return self.kind == "ppo" if self.value_head is None else self.value_head


def estimate(step: Step) -> MemoryEstimate:
    """The peak memory of one training step, as a breakdown: what is alive in every phase, plus
    the largest of the backward, update and generation phases."""
    spec = model_spec(step.model, parameters=step.parameters)
    trainable = (
        spec.lora_parameters(step.lora_rank, step.lora_targets)
        if step.lora_rank
        else (spec.parameters)
    )
    trainable += (spec.hidden_size + 1) if step.has_value_head else 0
    parts = _held(step, spec, trainable)
    phases = {
        "backward": _backward(step, spec, trainable),
        "update": _update(step, spec, trainable),
        "generation": _generation(step, spec),
    }
    phase = max(phases, key=lambda p: sum(phases[p].values()))
    persistent = tuple(parts)
    parts.update(phases[phase])
    return MemoryEstimate(
        parts=parts,
        phase=phase,
        phases={p: int(sum(v.values())) for p, v in phases.items()},
        persistent=persistent,
        notes=_notes(step, spec, trainable),
    )


def _held(step: Step, spec: ModelSpec, trainable: int) -> dict:
    """Alive in every phase: the trained model, the reference and frozen models, optimizer
    states."""
    head = (spec.hidden_size + 1) * 4 * step.has_value_head
    parts = {
        "policy weights" if step.kind != "sft" else "model weights": _weight_bytes(
            spec, step.weights
        )
        + head
    }
    if step.lora_rank:
        parts["LoRA adapters"] = trainable * 4
    if step.reference == "copy":
        parts["reference model"] = _weight_bytes(
            spec, step.reference_weights or step.frozen_weights
        )
    for frozen in step.frozen_models:  # an id or spec, or a (label, id or spec) pair
        label, frozen = frozen if isinstance(frozen, tuple) else (None, frozen)
        frozen_spec = model_spec(frozen)
        name = f"frozen: {label or frozen_spec.name}"
        copies = sum(1 for part in parts if part == name or part.startswith(f"{name} #"))
        parts[name if not copies else f"{name} #{copies + 1}"] = _weight_bytes(
            frozen_spec, step.frozen_weights
        )
    parts["optimizer states"] = trainable * OPTIMIZER_BYTES[step.optimizer]
    return parts


def _backward(step: Step, spec: ModelSpec, trainable: int) -> dict:
    """Activations, logits and the logits' gradient, as the backward pass starts."""
    h, layers, vocab = spec.hidden_size, spec.num_layers, spec.vocab_size
    act_bytes = ACTIVATION_BYTES_PER_HIDDEN[step.precision if step.mixed else "fp32"]
    tokens = step.batch_size * step.length
    logit_tokens = step.batch_size * (
        step.completion_len if step.kind == "grpo" else step.length
    )  # GRPO keeps completion logits only
    # saved + being differentiated (measured)
    logit_copies = {"sft": 3, "ppo": 5, "grpo": 3}[step.kind]
    if step.gradient_checkpointing:  # each layer's input only, plus one layer recomputed at a time
        activations = tokens * h * (layers * (2 if step.mixed else 4) + act_bytes)
        attention_layers = 1
    else:
        activations = tokens * h * layers * act_bytes
        attention_layers = layers
    if step.attention_dropout and step.device == "cpu":
        activations += (
            ATTENTION_SCORE_BYTES
            * spec.num_heads
            * step.batch_size
            * step.length**2
            * attention_layers
        )
    if step.logits == "none":  # a score head: one number per sequence
        backward = {"activations": activations}
    elif step.logits == "chunked":
        # tiles of logits and their temporaries, the hidden states' and LM head's gradients; a GPU
        # scores only the labelled positions
        scored = logit_tokens if step.device == "cuda" else tokens
        head_gradient = vocab * h * 4 if not step.lora_rank else 0
        # one buffer is always CHUNK_WORDS wide; the temporaries are as wide as the vocabulary's
        # tiles
        width = CHUNK_WORDS + (CHUNK_TILES[step.device] - 1) * min(vocab, CHUNK_WORDS)
        logit_bytes = min(scored, CHUNK_TOKENS) * width * 4 + scored * h * 4 + head_gradient
        backward = {"activations": activations, "logits (chunked tiles)": logit_bytes}
    else:
        backward = {
            "activations": activations,
            "logits (fp32)": logit_copies * logit_tokens * vocab * 4,
        }
    if step.mixed and not step.lora_rank:
        backward["16-bit weight copies"] = 2 * spec.parameters
    if step.gradient_accumulation_steps > 1:
        # the earlier micro-batches' gradients, summed into .grad, wait for the update
        backward["accumulated gradients"] = trainable * 4
    return backward


def _update(step: Step, spec: ModelSpec, trainable: int) -> dict:
    """All gradients, plus the optimizer's temporaries and tied-embedding sums."""
    temporaries = 0
    if step.optimizer == "adamw":
        # unfused: CUDA's foreach keeps one copy of everything, a CPU two of the largest
        temporaries = (
            trainable * 4
            if step.device == "cuda"
            else 2 * 4 * (spec.largest_parameter if not step.lora_rank else 0)
        )
    if spec.tied_embeddings and not step.lora_rank:
        # measured: 2 embedding-sized buffers; 3 once .grad exists
        accumulating = step.gradient_accumulation_steps > 1
        embedding = spec.vocab_size * spec.hidden_size * 4
        temporaries = max(temporaries, (3 if accumulating else 2) * embedding)
    return {"gradients": trainable * 4, "optimizer/grad temporaries": temporaries}


def _generation(step: Step, spec: ModelSpec) -> dict:
    """The key/value cache of every sequence generated at once (PPO, GRPO)."""
    if step.kind == "sft":
        return {}
    generated = step.generation_batch or step.batch_size
    cache_bytes = 2 if step.mixed or step.weights != "fp32" else 4
    # the legacy stack computes logits for every prompt token
    prefill = step.prompt_len if step.kind == "ppo" else 1
    return {
        "generation KV cache": 2
        * spec.num_layers
        * spec.kv_size
        * generated
        * step.length
        * cache_bytes,
        "generation logits": 2 * generated * prefill * spec.vocab_size * 4,
    }


def _notes(step: Step, spec: ModelSpec, trainable: int) -> list[str]:
    notes = [
        f"{spec.name}: {spec.parameters / 1e6:.1f} M parameters"
        + (" (shape guessed from the count)" if spec.rough else "")
    ]
    if step.lora_rank:
        notes.append(
            f"LoRA rank {step.lora_rank} on {step.lora_targets}: {trainable / 1e6:.2f} M "
            "trainable parameters"
        )
    if step.gradient_accumulation_steps > 1:
        notes.append(
            f"{step.gradient_accumulation_steps} micro-batches per optimizer step: from the "
            f"second on, the backward holds every fp32 gradient ({trainable * 4 / GB:.2f} GB)"
        )
    if step.attention_dropout and step.device == "cpu":
        notes.append(
            "CPU attention with dropout keeps the seq x seq scores (GPUs' fused attention does not)"
        )
    return notes


def _weight_bytes(spec: ModelSpec, weights: str) -> float:
    if weights in ("8-bit", "4-bit"):  # linear weights quantised; embeddings and norms stay 16-bit
        return (
            spec.linear_parameters * WEIGHT_BYTES[weights]
            + (spec.parameters - spec.linear_parameters) * 2
        )
    return spec.parameters * WEIGHT_BYTES[weights]
