"""helpers.tiny: offline, deterministic, cached builds that transformers loads like hub models."""

import time

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from helpers import tiny


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_TINY_CACHE", str(tmp_path))
    return tmp_path


def test_builds_every_model_in_seconds(cache):
    start = time.time()
    for name in tiny.TINY_MODELS:
        assert (tiny.build(name) / "config.json").exists()
    assert time.time() - start < 30


def test_second_build_reuses_the_cache(cache):
    first = tiny.build("tiny-gpt2")
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert tiny.build("tiny-gpt2") == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp


def test_builds_are_deterministic(tmp_path):
    for name in tiny.TINY_MODELS:
        one, two = tiny.build(name, tmp_path / "one"), tiny.build(name, tmp_path / "two")
        for file in ("model.safetensors", "tokenizer.json", "config.json"):
            assert (one / file).read_bytes() == (two / file).read_bytes(), f"{name}/{file}"


def test_a_changed_recipe_builds_a_new_model(cache, monkeypatch):
    before = tiny.build("tiny-gpt2")
    monkeypatch.setitem(
        tiny.TINY_MODELS, "tiny-gpt2", {**tiny.TINY_MODELS["tiny-gpt2"], "n_layer": 3}
    )
    after = tiny.build("tiny-gpt2")
    assert after != before
    assert AutoModelForCausalLM.from_pretrained(after).config.n_layer == 3


def test_an_interrupted_build_leaves_nothing_that_looks_finished(cache, monkeypatch):
    def crash(recipe, folder):
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setitem(tiny._BUILDERS, "gpt2", crash)
    with pytest.raises(KeyboardInterrupt):
        tiny.build("tiny-gpt2")
    assert list(cache.iterdir()) == []


def test_unknown_tiny_model_lists_the_known_ones():
    with pytest.raises(KeyError, match="tiny-qwen2-chat"):
        tiny.build("tiny-llama")


def test_causal_models_generate(cache):
    for name in ("tiny-gpt2", "tiny-distilgpt2", "tiny-qwen2-chat"):
        folder = tiny.build(name)
        tokenizer, model = (
            AutoTokenizer.from_pretrained(folder),
            AutoModelForCausalLM.from_pretrained(folder),
        )
        inputs = tokenizer("What is 6 times 8?", return_tensors="pt")
        output = model.generate(
            **inputs, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.eos_token_id
        )
        assert output.shape[1] == inputs["input_ids"].shape[1] + 5


def test_qwen_stand_in_speaks_chatml(cache):
    tokenizer = AutoTokenizer.from_pretrained(tiny.build("tiny-qwen2-chat"))
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 2?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert (
        text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2 + "
        "2?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"


def test_distilbert_stand_in_loads_as_a_sequence_classifier(cache):
    folder = tiny.build("distilbert-base-uncased")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    classifier = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    logits = classifier(
        **tokenizer(["a ghost in the dark", "a starship"], return_tensors="pt", padding=True)
    ).logits
    assert logits.shape == (2, 3)


def test_wordpiece_encodes_any_text_without_unknown_tokens(cache):
    tokenizer = AutoTokenizer.from_pretrained(tiny.build("distilbert-base-uncased"))
    tokens = tokenizer.tokenize("Zebra quokka 1,234!")
    assert "[UNK]" not in tokens


def test_building_a_model_leaves_the_callers_random_stream_alone(tmp_path):
    """A notebook gives the same numbers whether it builds its tiny models (a cold cache) or loads
    them."""

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    tiny.build("distilbert-base-uncased", cache_dir=tmp_path)
    assert torch.equal(torch.rand(4), expected)


def test_stand_ins_keep_the_real_architecture_and_context_length(tmp_path):
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(tiny.build("gpt2", cache_dir=tmp_path)).n_positions == 1024
    assert (
        AutoConfig.from_pretrained(
            tiny.build("distilbert-base-uncased", cache_dir=tmp_path)
        ).model_type
        == "distilbert"
    )
    qwen = AutoConfig.from_pretrained(tiny.build("Qwen/Qwen2.5-0.5B-Instruct", cache_dir=tmp_path))
    assert (qwen.model_type, qwen.max_position_embeddings) == ("qwen2", 32768)


def test_a_cache_folder_that_cannot_be_written_is_named_with_what_to_do(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RLHF_TINY_CACHE", str(blocker / "cache"))  # works as root too, unlike chmod
    with pytest.raises(tiny.CacheNotWritableError) as caught:
        tiny.build("tiny-gpt2")
    message = str(caught.value)
    assert str(blocker / "cache") in message and "RLHF_TINY_CACHE" in message
