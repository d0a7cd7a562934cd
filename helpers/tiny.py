"""Tiny stand-ins for every model the course uses, built offline in seconds and cached.

Each is saved with ``save_pretrained``, so a notebook loads it with ``from_pretrained(folder)``,
the same code that loads a hub id. They are random-init: they learn the course's small tiny
tasks in CI time, not English. Both stacks build and load every one of them.

>>> folder = build("tiny-gpt2")       # ~/.cache/rlhf-course/tiny/tiny-gpt2-<recipe hash>
>>> AutoModelForCausalLM.from_pretrained(folder)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from helpers.data import GENRE_LEXICON, genre_corpus

# name -> recipe. A recipe is everything that decides the files; its hash names the cache folder.
TINY_MODELS = {
    "tiny-gpt2": dict(
        kind="gpt2", stands_in_for="gpt2", vocab_size=640, n_layer=2, n_embd=64, n_head=2
    ),
    "tiny-distilgpt2": dict(
        kind="gpt2", stands_in_for="distilgpt2", vocab_size=640, n_layer=1, n_embd=64, n_head=2
    ),
    "tiny-qwen2-chat": dict(
        kind="qwen2",
        stands_in_for="Qwen/Qwen2.5-0.5B-Instruct",
        vocab_size=640,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
}
# Stand-ins saved under real hub ids, for the rehearsal of the real profiles
# (course_tools.rehearsal): each model's real architecture and context length, shrunk to the tiny
# sizes so that a real profile's notebooks run on a CPU in minutes. Models a package ships for real
# are not here (helpers.models.PACKAGED_MODELS).
STAND_INS = {
    "gpt2": dict(TINY_MODELS["tiny-gpt2"], max_positions=1024),
    "distilgpt2": dict(TINY_MODELS["tiny-distilgpt2"], max_positions=1024),
    "Qwen/Qwen2.5-0.5B-Instruct": dict(TINY_MODELS["tiny-qwen2-chat"], max_positions=32768),
    "distilbert-base-uncased": dict(
        kind="distilbert",
        stands_in_for="distilbert-base-uncased",
        vocab_size=640,
        dim=64,
        n_layers=2,
        n_heads=2,
        hidden_dim=128,
    ),
}


def recipe(name: str) -> dict:
    """The recipe of a tiny model or of a stand-in for a hub id."""
    if name in TINY_MODELS:
        return TINY_MODELS[name]
    if name in STAND_INS:
        return STAND_INS[name]
    raise KeyError(f"Unknown tiny model {name!r}; the course has {sorted(TINY_MODELS)}.")


SEED = 0
MAX_POSITIONS = 512
CORPUS_FILES = [
    Path(__file__).with_name(name) for name in ("tiny_corpus.txt", "genre_corpus.tsv", "data.py")
]
# Qwen2's own pre-tokenizer split, so that a Qwen2Tokenizer rebuilt from our files splits the same.
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt "
    "%}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class CacheNotWritableError(OSError):
    """The tiny models' cache folder cannot be created or written."""


def cache_root() -> Path:
    """Where tiny models live: $RLHF_TINY_CACHE, or ~/.cache/rlhf-course/tiny."""
    return Path(os.environ.get("RLHF_TINY_CACHE", Path.home() / ".cache" / "rlhf-course" / "tiny"))


def recipe_hash(name: str) -> str:
    """A short hash of the recipe, the corpus files (data.py holds the genre lexicon) and this
    module's code: change any, and the model rebuilds."""
    digest = hashlib.sha256()
    digest.update(json.dumps(recipe(name), sort_keys=True).encode())
    for corpus_file in CORPUS_FILES:
        digest.update(corpus_file.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def build(name: str, cache_dir: Path | str | None = None) -> Path:
    """Build (or reuse) a tiny model, or a stand-in for a hub id, and return its folder, ready for
    ``from_pretrained``."""
    kind = recipe(name)["kind"]
    root = Path(cache_dir) if cache_dir else cache_root()
    stem = name.replace("/", "--")
    folder = root / f"{stem}-{recipe_hash(name)}"
    if (folder / "config.json").exists():
        return folder

    def make(work: Path) -> None:
        import torch

        # Building seeds torch with its own SEED: without fork_rng that would reset the caller's
        # random stream, and a notebook would give other results on a cold cache than on a warm one.
        with torch.random.fork_rng(devices=[]):
            _BUILDERS[kind](recipe(name), work)

    return build_folder(folder, make)


def build_folder(folder: Path, make) -> Path:
    """``make(work)`` writes a model folder into a temporary folder next to `folder`, renamed to
    `folder` when done, so that an interrupted build never looks finished. Returns `folder`."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as error:
        raise CacheNotWritableError(
            f"Cannot write the tiny models' cache folder {folder.parent} "
            f"({error.strerror or error}). Point RLHF_TINY_CACHE at a folder you can "
            "write (for example RLHF_TINY_CACHE=$HOME/rlhf-tiny-cache), or unset it to "
            "use ~/.cache/rlhf-course/tiny."
        ) from error
    try:
        make(work)
        try:
            work.rename(folder)
        except OSError:  # another process finished the same build first
            if not (folder / "config.json").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _corpus_lines() -> list[str]:
    """Course text the tokenizers learn from: the tiny corpus, the genre corpus, and the genre
    lexicon's words (so that the genres' words are whole tokens)."""
    lines = [line for line in CORPUS_FILES[0].read_text().splitlines() if line.strip()]
    lines += [row["text"] for row in genre_corpus(styles=False)]
    lines += [" ".join(words) for lexicon in GENRE_LEXICON.values() for words in lexicon.values()]
    return lines


def _byte_level_bpe(vocab_size: int, special_tokens: list[str], qwen_split: bool):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    if qwen_split:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_corpus_lines(), trainer)
    return tokenizer


def _wordpiece(vocab_size: int):
    """A BERT WordPiece tokenizer. Its vocabulary is made here, not trained: the WordPiece trainer
    breaks ties at random, and a tiny model must build the same way every time. Characters (and
    their ## forms) first, so any text encodes, then whole words by frequency."""
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer, splitter = (
        normalizers.BertNormalizer(lowercase=True),
        pre_tokenizers.BertPreTokenizer(),
    )
    words = Counter(
        word
        for line in _corpus_lines()
        for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line))
    )
    chars = sorted({ch for word in words for ch in word})
    vocab = specials + chars + [f"##{ch}" for ch in chars]
    by_frequency = sorted((w for w in words if w not in vocab), key=lambda w: (-words[w], w))
    vocab += by_frequency[: max(0, vocab_size - len(vocab))]
    tokenizer = Tokenizer(
        models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token="[UNK]")
    )
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = splitter
    tokenizer.decoder = decoders.WordPiece()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tokenizer


def _build_gpt2(recipe: dict, folder: Path) -> None:
    import torch
    import transformers

    eos = "<|endoftext|>"
    tokenizer = transformers.GPT2TokenizerFast(
        tokenizer_object=_byte_level_bpe(recipe["vocab_size"], [eos], qwen_split=False),
        bos_token=eos,
        eos_token=eos,
        unk_token=eos,
    )
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=recipe.get("max_positions", MAX_POSITIONS),
        n_embd=recipe["n_embd"],
        n_layer=recipe["n_layer"],
        n_head=recipe["n_head"],
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(SEED)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _build_qwen2(recipe: dict, folder: Path) -> None:
    import torch
    import transformers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = transformers.Qwen2TokenizerFast(
        tokenizer_object=_byte_level_bpe(recipe["vocab_size"], specials, qwen_split=True),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=recipe.get("max_positions", MAX_POSITIONS),
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **{
            k: recipe[k]
            for k in (
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
            )
        },
    )
    torch.manual_seed(SEED)
    model = transformers.Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # transformers 5 writes the template to chat_template.jinja, which 4.x does not read: keep both.
    config_file = folder / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text())
    tokenizer_config["chat_template"] = CHATML_TEMPLATE
    config_file.write_text(json.dumps(tokenizer_config, indent=2))


def _build_distilbert(recipe: dict, folder: Path) -> None:
    import torch
    import transformers

    tokenizer = transformers.DistilBertTokenizerFast(
        tokenizer_object=_wordpiece(recipe["vocab_size"]), do_lower_case=True
    )
    config = transformers.DistilBertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        **{k: recipe[k] for k in ("dim", "n_layers", "n_heads", "hidden_dim")},
    )
    torch.manual_seed(SEED)
    transformers.DistilBertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


_BUILDERS = {
    "gpt2": _build_gpt2,
    "qwen2": _build_qwen2,
    "distilbert": _build_distilbert,
}
