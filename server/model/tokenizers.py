"""Tokenizers for tiny offline models: a deterministic word-level tokenizer that behaves like the
real ones for our purposes (pseudo-words are single tokens, padding, attention masks)."""

from __future__ import annotations

from motionscore.shared.genres import GENRES

_WORDS = sorted(set(
    "a an the music with as rhythm and of on in by for played piano guitar drums bass synth strings "
    "song beat dance fast slow loud soft happy sad dark bright jazz pop house funk hip hop rock electronic "
    "orchestral ambient upbeat groove congas vocals choir brass lead pad".split()
    + [w.lower() for _, name in GENRES for w in name.replace("-", " ").split()]))


#: What text-only prompts add for the tempo map ("112 bpm", "in 3/4 time"): appended to the tiny
#: models' vocabulary so that, as with a real tokenizer, different tempi give different prompts.
TEMPO_PROMPT_WORDS = ("bpm", "time", "/") + tuple(str(n) for n in range(0, 301))


def word_level_tokenizer(special: list[str], eos: str | None = None, pad: str = "<pad>", unk: str = "<unk>",
                         lowercase: bool = True, extra_words: tuple[str, ...] = ()):
    """A PreTrainedTokenizerFast over a fixed vocabulary: specials first, then a small word list,
    then ``extra_words`` (appended, so the ids of the default vocabulary never move)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = [pad, unk] + ([eos] if eos else []) + list(special)
    words = [w for w in _WORDS if w not in specials]
    words += [w for w in dict.fromkeys(extra_words) if w not in specials and w not in words]
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    if eos:
        tok.post_processor = processors.TemplateProcessing(single=f"$A {eos}", special_tokens=[(eos, vocab[eos])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=pad, unk_token=unk, eos_token=eos,
                                   additional_special_tokens=list(special))
    return fast
