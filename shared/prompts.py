"""Prompts with pseudo-words: ``a @ music with * as the rhythm`` and user text around it (pure Python,
so the add-on and the CLI can check a template before anything is sent).

The user writes ``{genre}`` and ``{rhythm}`` where the pseudo-words go; each backbone replaces them
with two single tokens of its own tokenizer (e.g. T5 sentinels) whose embedding rows the encoders
overwrite.
"""

from __future__ import annotations

DEFAULT_TEMPLATE = "a {genre} music with {rhythm} as the rhythm"
PLACEHOLDERS = ("{rhythm}", "{genre}")


class PromptError(ValueError):
    """A template without placeholders: one line."""


def build_prompt(user_text: str = "", template: str | None = None) -> str:
    """The prompt text with ``{rhythm}``/``{genre}`` placeholders.

    - ``template`` (optional) must contain ``{rhythm}`` (and may contain ``{genre}``);
    - ``user_text`` containing a placeholder is used as the template itself;
    - other ``user_text`` is appended: ``"a {genre} music with {rhythm} as the rhythm, played on a piano"``.
    """
    user_text = (user_text or "").strip()
    if any(p in user_text for p in PLACEHOLDERS):
        template, user_text = user_text, ""
    template = DEFAULT_TEMPLATE if template is None else template
    if "{rhythm}" not in template:
        raise PromptError(f"the prompt template {template!r} has no {{rhythm}} placeholder: write where the "
                          f"motion's rhythm goes, e.g. {DEFAULT_TEMPLATE!r}")
    unknown = template.replace("{rhythm}", "").replace("{genre}", "")
    if "{" in unknown or "}" in unknown:
        raise PromptError(f"the prompt template {template!r} has an unknown placeholder; use {{rhythm}} and {{genre}}")
    return f"{template}, {user_text}" if user_text else template


def fill(prompt: str, rhythm_token: str, genre_token: str) -> str:
    return prompt.replace("{rhythm}", rhythm_token).replace("{genre}", genre_token)


def tempo_words(bpm: float | None, meter: int | None = None) -> str:
    """The tempo (and a 3/4 meter) in words for a text-only prompt: "112 bpm", "84 bpm, in 3/4 time";
    "" without a tempo. Music captions name the tempo this way, so text-to-music models follow it."""
    if bpm is None or not bpm > 0:
        return ""
    words = f"{int(round(bpm))} bpm"
    return f"{words}, in 3/4 time" if meter == 3 else words
