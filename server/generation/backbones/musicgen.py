"""`musicgen`: MusicGen through audiocraft, conditioned with pseudo-words written by the encoders.

The description conditioner is replaced by :class:`PseudoWordT5Conditioner`: it tokenizes the
prompt (T5 sentinels ``<extra_id_0>`` = ``*`` rhythm, ``<extra_id_1>`` = ``@`` genre), overwrites
those rows of T5's input embeddings with the encoder outputs, runs the frozen T5 encoder and the
frozen output projection. For classifier-free guidance audiocraft asks for B conditional rows
followed by B null rows; with negative motion on, the null rows become the same prompt conditioned
on the reversed motion's rhythm (PN-Diffusion's idea) instead of the empty condition.

``--model tiny`` builds a small random MusicGen (debug EnCodec, 2-layer LM, 2-layer T5, word-level
tokenizer) deterministically, offline; every other path is the same as for a real model.
``--model FILE.safetensors`` loads a tiny model pretrained by the learning proof (:func:`save_pretrained`, written by ``training.pretrain``).
"""

from __future__ import annotations

import json
import typing as tp
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from audiocraft.modules.conditioners import ConditioningProvider, ConditionFuser, TextConditioner

from motionscore.server.model.captions import CAPTION_WORDS
from motionscore.server.model.device import resolve_device
from motionscore.server.model.pseudo_words import InjectionPlan, inject
from motionscore.server.model.weights import missing_weights_hint

from .base import Backbone, Generation, GenerationRequest, ProgressFn, no_progress
from .ml_common import MLBackboneMixin, exact_length
from .musicgen_decoder import use_decoder, unsupported_reason

RHYTHM_TOKEN, GENRE_TOKEN = "<extra_id_0>", "<extra_id_1>"
DEFAULT_GUIDANCE = 3.0


class PseudoWordT5Conditioner(TextConditioner):
    """T5 text conditioner whose pseudo-word rows come from the encoders (see module docstring)."""

    def __init__(self, tokenizer, t5, output_dim: int, device: str = "cpu"):
        super().__init__(t5.config.d_model, output_dim)
        self.tokenizer = tokenizer
        self.__dict__["t5"] = t5.to(device).eval()  # frozen, kept out of the state dict
        for p in t5.parameters():
            p.requires_grad_(False)
        self.device = device
        self.token_ids = tuple(tokenizer.convert_tokens_to_ids([RHYTHM_TOKEN, GENRE_TOKEN]))
        self.plan: InjectionPlan | None = None

    def tokenize(self, x: tp.List[tp.Optional[str]]) -> tp.Dict[str, torch.Tensor]:
        entries = [xi if xi is not None else "" for xi in x]
        # role: 0 plain text, +k conditional row using plan.vectors[k-1], -k negative row using plan.negative[k-1]
        roles = [0] * len(entries)
        plan = self.plan
        if plan is not None:
            b = len(plan.texts)
            for i in range(min(b, len(entries))):
                if entries[i]:
                    roles[i] = i + 1
            if plan.negative is not None and len(entries) == 2 * b and all(e == "" for e in entries[b:]):
                for i in range(b):
                    entries[b + i] = plan.texts[i]
                    roles[b + i] = -(i + 1)
        empty = [i for i, e in enumerate(entries) if e == ""]
        inputs = self.tokenizer(entries, return_tensors="pt", padding=True).to(self.device)
        inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        inputs["attention_mask"][empty, :] = 0
        inputs["roles"] = torch.tensor(roles, device=self.device)
        return inputs

    def input_embeddings(self, inputs: tp.Dict[str, torch.Tensor]) -> torch.Tensor:
        """T5 input embeddings (B, T, d_model) with pseudo-word rows written per the plan."""
        ids, roles = inputs["input_ids"], inputs["roles"]
        embeds = self.t5.get_input_embeddings()(ids)
        plan = self.plan
        if plan is None or plan.vectors is None:
            return embeds
        rows = torch.zeros(ids.shape[0], 2, embeds.shape[-1], device=embeds.device, dtype=plan.vectors.dtype)
        use = torch.zeros(ids.shape[0], dtype=torch.bool, device=embeds.device)
        for i, role in enumerate(roles.tolist()):
            if role > 0:
                rows[i], use[i] = plan.vectors[role - 1], True
            elif role < 0 and plan.negative is not None:
                rows[i], use[i] = plan.negative[-role - 1], True
        injected = inject(embeds, ids, self.token_ids, rows)
        return torch.where(use[:, None, None], injected, embeds)

    def forward(self, inputs: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        mask = inputs["attention_mask"]
        # Gradients must reach the encoders through the frozen T5 (audiocraft's own T5 conditioner
        # disables them unless T5 itself is fine-tuned).
        embeds = self.input_embeddings(inputs)
        hidden = self.t5(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        out = self.output_proj(hidden.to(self.output_proj.weight.dtype))
        return out * mask.unsqueeze(-1), mask


def build_tiny_musicgen(seed: int = 0, device: str = "cpu", dim: int = 32, layers: int = 2, heads: int = 4,
                        text_dim: int = 32, extra_words: tuple[str, ...] = (), codebooks: int = 4,
                        release_layout: bool = False, card: int = 400, text_layers: int = 2, text_heads: int | None = None,
                        text_ff: int | None = None):
    """A small random MusicGen of the real architecture family, the same every time, offline.

    Defaults are the ``--model tiny`` used by tests; the learning proof builds a wider one
    (``dim``/``layers`` of the LM, ``text_dim`` of T5), may use fewer of the codec's 4 codebooks,
    and adds caption words to the vocabulary. ``release_layout`` lays the LM out as the released
    MusicGen models are (pre-norm, no biases, audiocraft's memory-efficient attention path, GELU):
    with :data:`MUSICGEN_SMALL` sizes it is musicgen-small with random weights, for speed figures.
    """
    from audiocraft.models import MusicGen, builders
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from transformers import T5Config, T5EncoderModel

    from motionscore.server.model.tokenizers import word_level_tokenizer

    torch.manual_seed(seed)
    compression = builders.get_debug_compression_model(device, sample_rate=32000)
    compression.set_num_codebooks(codebooks)
    tokenizer = word_level_tokenizer([RHYTHM_TOKEN, GENRE_TOKEN], eos="</s>", extra_words=extra_words)
    text_heads = text_heads or max(text_dim // 8, 1)
    t5 = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=text_dim, d_kv=text_dim // text_heads,
                                 d_ff=text_ff or 2 * text_dim, num_layers=text_layers, num_heads=text_heads,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id))
    conditioner = PseudoWordT5Conditioner(tokenizer, t5, output_dim=dim, device=device)
    layout = dict(custom=True)
    if release_layout:  # audiocraft's config/model/lm/musicgen_lm.yaml
        layout = dict(memory_efficient=True, norm_first=True, bias_ff=False, bias_attn=False, bias_proj=False,
                      activation="gelu", hidden_scale=4)
    lm = LMModel(DelayedPatternProvider(n_q=codebooks), ConditioningProvider({"description": conditioner}, device=device),
                 ConditionFuser({"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []}),
                 n_q=codebooks, card=card, dim=dim, num_heads=heads, num_layers=layers, cross_attention=True,
                 causal=True, **layout).to(device).eval()
    return MusicGen("tiny", compression, lm, max_duration=30)


#: musicgen-small's sizes (audiocraft's musicgen/small config): LM 24 x 1024, 16 heads, 4 codebooks of
#: 2048, T5-base text encoder (768 wide, 12 layers, 12 heads, 3072 feed-forward).
MUSICGEN_SMALL = dict(dim=1024, layers=24, heads=16, card=2048, codebooks=4, text_dim=768, text_layers=12,
                      text_heads=12, text_ff=3072, release_layout=True)


def load_musicgen(model: str, device: str = "cpu"):
    """Hub id or local directory -> MusicGen with the pseudo-word conditioner in place."""
    from audiocraft.models import MusicGen

    try:
        mg = MusicGen.get_pretrained(model, device=device)
    except Exception as exc:  # hub errors, missing files, bad directories
        raise RuntimeError(
            f"cannot load MusicGen {model!r} offline ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            f"It needs the model's weights (a hub id in the Hugging Face cache, or a folder with state_dict.bin "
            f"and compression_state_dict.bin) and the t5-base text encoder. "
            f"{missing_weights_hint('musicgen', model)}") from None
    original = mg.lm.condition_provider.conditioners["description"]
    conditioner = PseudoWordT5Conditioner(original.t5_tokenizer, original.t5, original.output_proj.out_features,
                                          device=device)
    conditioner.output_proj.load_state_dict(original.output_proj.state_dict())
    mg.lm.condition_provider.conditioners["description"] = conditioner.to(device)
    return mg


FORMAT = "motionscore-tiny-musicgen/1"


@dataclass
class TinyMusicGenSpec:
    """Arguments of :func:`build_tiny_musicgen` for a pretrained tiny model (stored with its weights)."""

    seed: int = 0
    dim: int = 128
    layers: int = 4
    heads: int = 8
    text_dim: int = 64
    extra_words: list[str] = field(default_factory=lambda: list(CAPTION_WORDS))
    codebooks: int = 1

    def build(self, device: str = "cpu"):
        from motionscore.server.generation.backbones.musicgen import build_tiny_musicgen

        return build_tiny_musicgen(seed=self.seed, device=device, dim=self.dim, layers=self.layers,
                                   heads=self.heads, text_dim=self.text_dim, extra_words=tuple(self.extra_words),
                                   codebooks=self.codebooks)


def save_pretrained(backbone, spec: TinyMusicGenSpec, path: Path) -> None:
    """The LM's and the codec's weights + the spec that rebuilds the rest, as safetensors (atomic)."""
    from safetensors.torch import save_file

    state = {f"lm.{k}": v for k, v in backbone.mg.lm.state_dict().items()}
    state |= {f"codec.{k}": v for k, v in backbone.mg.compression_model.state_dict().items()}
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={"format": FORMAT, "spec": json.dumps(asdict(spec))})
    tmp.replace(path)


def load_pretrained_musicgen(path: Path, device: str = "cpu"):
    """The audiocraft MusicGen saved by :func:`save_pretrained` (eval mode)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own types for unreadable files
        raise ValueError(f"{path}: not a safetensors file ({type(exc).__name__})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a pretrained tiny MusicGen (format {meta.get('format')!r})")
    spec = TinyMusicGenSpec(**json.loads(meta["spec"]))
    mg = spec.build(device)
    state = load_file(str(path), device=device)
    for prefix, module in (("lm.", mg.lm), ("codec.", mg.compression_model)):
        module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        module.eval()
    return mg


class MusicGenBackbone(MLBackboneMixin, Backbone):
    """MusicGen + encoders (see module docstring).

    Pieces longer than ``window_s`` continue window by window at the token level: each new window
    is prompted with the last ``context_s`` seconds of tokens and conditioned on its own part of
    the motion; all tokens are decoded once at the end, so there is no seam to hide.
    """

    name = "musicgen"
    native_sample_rate = 32000
    window_s = 15.0
    context_s = 5.0

    def __init__(self, model: str = "tiny", encoders: str | None = None, device: str | None = None,
                 encoders_format: str = "motionscore", decoder: str = "fast", **_ignored):
        self.device = resolve_device(device)
        self._model_id = model
        if model == "tiny":
            from motionscore.server.model.tokenizers import TEMPO_PROMPT_WORDS

            self.mg = build_tiny_musicgen(device=self.device, extra_words=TEMPO_PROMPT_WORDS)
        elif model.endswith(".safetensors"):  # a tiny model pretrained by the learning proof
            self.mg = load_pretrained_musicgen(model, self.device)
        else:
            self.mg = load_musicgen(model, self.device)
        self._freeze()
        self.decoder = decoder
        self.load_encoders(encoders, encoders_format)

    @classmethod
    def from_musicgen(cls, mg, model_id: str, encoders: str | None = None, device: str = "cpu") -> "MusicGenBackbone":
        """Wrap an already built MusicGen whose description conditioner is a
        :class:`PseudoWordT5Conditioner` (the learning proof's pretrained tiny model)."""
        self = cls.__new__(cls)
        self.device, self._model_id, self.mg = device, model_id, mg
        self._freeze()
        self.decoder = "fast"
        self.load_encoders(encoders)
        return self

    @property
    def decoder(self) -> str:
        """The token decoder generation uses: ``"fast"`` (:mod:`.musicgen_decoder`, the same tokens
        as audiocraft's loop, faster) or ``"audiocraft"``; setting it swaps the LM's ``generate``."""
        return self._decoder

    @decoder.setter
    def decoder(self, name: str) -> None:
        use_decoder(self.mg, name)
        self._decoder = name

    def _freeze(self) -> None:
        for p in self.mg.lm.parameters():
            p.requires_grad_(False)
        for p in self.mg.compression_model.parameters():
            p.requires_grad_(False)
        self.native_sample_rate = self.mg.sample_rate

    @property
    def conditioner(self) -> PseudoWordT5Conditioner:
        return self.mg.lm.condition_provider.conditioners["description"]

    @property
    def text_dim(self) -> int:
        return self.conditioner.t5.config.d_model

    def plan_for(self, requests: list[GenerationRequest]) -> InjectionPlan:
        texts = [self.prompt_text(r, RHYTHM_TOKEN, GENRE_TOKEN) for r in requests]
        vectors, negative = self.encode(requests)
        return InjectionPlan(texts, vectors, negative)

    def _generate_windows(self, requests: list[GenerationRequest], progress: ProgressFn = no_progress) -> list[Generation]:
        return self.generate_plan(self.plan_for(requests), requests, progress)

    def generate_plan(self, plan: InjectionPlan, requests: list[GenerationRequest],
                      progress: ProgressFn = no_progress) -> list[Generation]:
        """Generate one window per request from prepared prompt texts and pseudo-word rows."""
        first = requests[0]
        duration = max(r.duration for r in requests)
        self.mg.set_generation_params(duration=duration, cfg_coef=first.guidance or DEFAULT_GUIDANCE,
                                      top_k=250, use_sampling=True)
        self.mg.set_custom_progress_callback(lambda done, total: progress(done / max(total, 1), "generating tokens"))
        torch.manual_seed(first.seed)
        self.conditioner.plan = plan
        try:
            with torch.no_grad():
                # progress=True makes audiocraft call our callback (it would print without one).
                wav = self.mg.generate(plan.texts, progress=True)  # (B, 1, T) at the model's rate
        finally:
            self.conditioner.plan = None
            self.mg.set_custom_progress_callback(None)
        audio = wav[:, 0].float().cpu().numpy()
        return [Generation(audio=exact_length(a, self.mg.sample_rate, r), sample_rate=r.sample_rate, genre=r.genre,
                           notes=self.notes(r), info={"prompt_text": t, "model_rate": self.mg.sample_rate,
                                                      "decoder": self.decoder_used()})
                for a, r, t in zip(audio, requests, plan.texts)]

    def decoder_used(self) -> str:
        """What the last generation decoded with: ``fast`` (eager or CUDA graph) or ``audiocraft``
        (chosen, or the fallback for a LM the fast decoder does not implement)."""
        generate = self.mg.lm.__dict__.get("generate")
        if generate is None:
            reason = unsupported_reason(self.mg.lm) if self.decoder == "fast" else None
            return "audiocraft" + (f" (fast decoder unsupported: {reason})" if reason else "")
        return f"fast ({generate.__self__.last_path})"

    def _generate_long(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        rate = self.mg.frame_rate
        total = int(np.ceil(request.duration * rate))
        context = int(self.context_s * rate)
        stride = self.window_s - self.context_s
        windows = 1 + int(np.ceil(max(request.duration - self.window_s, 0.0) / stride))
        tokens = None
        torch.manual_seed(request.seed)
        for k in range(windows):
            done = 0 if tokens is None else tokens.shape[-1]
            if done >= total:
                break
            prompt = None if tokens is None else tokens[..., -context:]
            start = (done - (0 if prompt is None else prompt.shape[-1])) / rate
            length = min(self.window_s, request.duration - start)
            label = f"window {k + 1}/{windows}"
            window = self.window_request(request, start, start + length, 0)
            plan = self.plan_for([window])
            self.mg.set_generation_params(duration=length, cfg_coef=request.guidance or DEFAULT_GUIDANCE,
                                          top_k=250, use_sampling=True)
            self.mg.set_custom_progress_callback(
                lambda n, of, k=k, label=label: progress((k + n / max(of, 1)) / windows, f"{label}: generating tokens"))
            self.conditioner.plan = plan
            try:
                with torch.no_grad():
                    attributes, _ = self.mg._prepare_tokens_and_attributes(plan.texts, None)
                    new = self.mg._generate_tokens(attributes, prompt, progress=True)
            finally:
                self.conditioner.plan = None
                self.mg.set_custom_progress_callback(None)
            tokens = new if tokens is None else torch.cat([tokens, new[..., prompt.shape[-1]:]], dim=-1)
        progress(1.0, "decoding")
        with torch.no_grad():
            wav = self.mg.generate_audio(tokens[..., :total])
        audio = exact_length(wav[0, 0].float().cpu().numpy(), self.mg.sample_rate, request)
        return Generation(audio=audio, sample_rate=request.sample_rate, genre=request.genre,
                          notes=self.notes(request) + [f"{windows} windows continued at the token level"],
                          info={"windows": windows, "model_rate": self.mg.sample_rate, "decoder": self.decoder_used()})

    # -- training --------------------------------------------------------------------------
    def training_loss(self, codes: torch.Tensor, requests: list[GenerationRequest]) -> torch.Tensor:
        """Cross-entropy of the frozen LM on EnCodec tokens ``codes`` (B, K, T) given the encoders'
        pseudo-words. Gradients flow only into the encoders."""
        plan = self.plan_for(requests)
        self.conditioner.plan = plan
        try:
            return self.text_cross_entropy(codes, plan.texts)
        finally:
            self.conditioner.plan = None

    def text_cross_entropy(self, codes: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """Mean cross-entropy of the LM on ``codes`` (B, K, T) conditioned on ``texts`` (B; "" is the
        null condition), with the conditioner's current plan (None: plain text, as in pretraining)."""
        tokenized = self.mg.lm.condition_provider.tokenize([self._attributes(t) for t in texts])
        condition_tensors = self.mg.lm.condition_provider(tokenized)
        out = self.mg.lm.compute_predictions(codes, conditions=[], condition_tensors=condition_tensors)
        logits, mask = out.logits, out.mask
        return torch.nn.functional.cross_entropy(logits[mask].float(), codes[mask], reduction="mean")

    @staticmethod
    def _attributes(text: str):
        from audiocraft.modules.conditioners import ConditioningAttributes

        return ConditioningAttributes(text={"description": text})
