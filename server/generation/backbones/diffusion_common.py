"""Shared by the latent-diffusion backbones: pseudo-word injection through an embedding hook,
seeded generators, step progress, and loading pipelines offline with clear errors."""

from __future__ import annotations

from contextlib import contextmanager

import torch

from motionscore.server.model.device import resolve_device
from motionscore.server.model.pseudo_words import InjectionPlan, inject


class EmbeddingInjector:
    """Forward hook on a text encoder's token-embedding module: while a plan is active, the rows
    whose ids are the pseudo-word ids are overwritten with ``vectors`` (one row per batch item)."""

    def __init__(self, embedding: torch.nn.Module, token_ids: tuple[int, int]):
        self.token_ids = token_ids
        self.vectors: torch.Tensor | None = None
        embedding.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        if self.vectors is None:
            return output
        ids = args[0]
        return inject(output, ids, self.token_ids, self.vectors.to(output.dtype))

    @contextmanager
    def active(self, vectors: torch.Tensor | None):
        self.vectors = vectors
        try:
            yield
        finally:
            self.vectors = None


#: The published pseudo-words, single tokens in both CLIP's and CLAP's tokenizers.
RHYTHM_TOKEN, GENRE_TOKEN = "*", "@"


class DiffusionBackboneMixin:
    """What Riffusion and AudioLDM share once their pipeline is built: frozen components, the
    ``*``/``@`` pseudo-word ids, the embedding hook, and the positive/negative conditioning.
    Subclasses provide ``text_embeddings(texts, vectors, grad)``."""

    rhythm_token, genre_token = RHYTHM_TOKEN, GENRE_TOKEN

    def init_pipeline(self, model: str, device: str | None, steps: int | None, pipeline, pipeline_class,
                      build_tiny, hint: str, default_steps: int, tiny_steps: int) -> bool:
        """Set ``device``, ``_model_id``, ``pipe`` and ``steps``: a prebuilt ``pipeline`` (benchmarks
        hand in real-size random ones; run as loaded weights would be), the tiny model, or weights
        loaded offline (``hint`` says how to get them). Returns whether the tiny model was built."""
        self.device = resolve_device(device)
        self._model_id = model
        tiny = pipeline is None and model == "tiny"
        if pipeline is not None:
            self.pipe = pipeline.to(self.device)
        elif tiny:
            self.pipe = build_tiny(device=self.device)
        else:
            self.pipe = load_pipeline(pipeline_class, model, self.device, dtype_for(self.device), hint)
        self.steps = steps or (tiny_steps if tiny else default_steps)
        return tiny

    def setup_pseudo_words(self, frozen: tuple, encoders: str | None, encoders_format: str) -> None:
        self.pipe.set_progress_bar_config(disable=True)
        for module in frozen:
            module.requires_grad_(False)
            module.eval()  # models built from configs start in training mode (dropout on)
        ids = [self.pseudo_word_id(word) for word in (self.rhythm_token, self.genre_token)]
        self.token_ids = (ids[0], ids[1])
        self.injector = EmbeddingInjector(self.token_embedding(), self.token_ids)
        self.load_encoders(encoders, encoders_format)

    def pseudo_word_id(self, word: str) -> int:
        """The single token id of a pseudo-word. SentencePiece tokenizers (T5) may put a lone
        word-start piece before it; that piece is dropped, the word itself must be one token."""
        tokenizer = self.pipe.tokenizer
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) == 2 and tokenizer.convert_ids_to_tokens(ids[0]) == "\u2581":
            ids = ids[1:]
        if len(ids) != 1:
            raise RuntimeError(f"the tokenizer does not keep {word!r} as a single token")
        return ids[0]

    def token_embedding(self) -> torch.nn.Module:
        """The module that embeds the text encoder's token ids (its output rows get overwritten)."""
        return self.pipe.text_encoder.get_input_embeddings()

    @property
    def text_dim(self) -> int:
        return self.pipe.text_encoder.config.hidden_size

    def texts(self, requests) -> list[str]:
        return [self.prompt_text(r, self.rhythm_token, self.genre_token) for r in requests]

    def conditioning(self, requests) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """(prompt texts, prompt embeddings, negative embeddings): the negative branch is the same
        prompt with the reversed motion's pseudo-words when asked for, else the empty prompt."""
        texts = self.texts(requests)
        vectors, negative = self.encode(requests)
        prompt = self.text_embeddings(texts, vectors)
        if negative is not None:
            return texts, prompt, self.text_embeddings(texts, negative)
        return texts, prompt, self.text_embeddings([""] * len(texts), None)

    def training_embeddings(self, requests) -> torch.Tensor:
        """Prompt embeddings with gradients flowing back into the encoders."""
        vectors, _ = self.encode(requests, grad=True)
        return self.text_embeddings(self.texts(requests), vectors, grad=True)


def load_pipeline(cls, model: str, device: str, dtype, hint: str):
    """``cls.from_pretrained`` from a local folder or the HF cache only; one-line error otherwise."""
    # diffusers 0.42 names the dtype `dtype` (torch_dtype is deprecated); low_cpu_mem_usage needs
    # accelerate, which is not a dependency: say so instead of letting diffusers warn about it.
    options = {"dtype": dtype, "local_files_only": True, "low_cpu_mem_usage": False}
    if "safety_checker" in cls.__init__.__code__.co_varnames:
        options["safety_checker"] = None
    try:
        pipe = cls.from_pretrained(model, **options)
    except Exception as exc:  # missing files, bad folders
        raise RuntimeError(f"cannot load {model!r} offline ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}). "
                           f"{hint}") from None
    return pipe.to(device)


def step_progress(progress, total_steps: int, label: str = "denoising"):
    """A diffusers step callback that reports progress (and lets Cancelled propagate)."""
    state = {"step": 0}

    def callback(*args, **kwargs):
        # New-style pipelines call (pipe, step, timestep, callback_kwargs) and want the dict back;
        # old-style ones (AudioLDM) call (step, timestep, latents) and ignore the return value.
        state["step"] += 1
        progress(min(state["step"] / max(total_steps, 1), 1.0), f"{label} {state['step']}/{total_steps}")
        return args[3] if len(args) >= 4 and isinstance(args[3], dict) else kwargs.get("callback_kwargs")

    return callback


def noise_prediction_loss(unet, scheduler, latents: torch.Tensor, generator: torch.Generator | None = None,
                          **conditioning) -> torch.Tensor:
    """The latent-diffusion training objective: MSE between added and predicted noise.

    Args:
        latents: (B, C, H, W) clean latents (cached once per clip in training).
        conditioning: ``encoder_hidden_states`` and/or ``class_labels`` for the UNet.
    """
    noise = torch.randn(latents.shape, generator=generator, device="cpu").to(latents)
    steps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
    steps = steps.to(latents.device)
    noisy = scheduler.add_noise(latents, noise, steps)
    prediction = unet(noisy, steps, **conditioning).sample
    return torch.nn.functional.mse_loss(prediction.float(), noise.float())


def dtype_for(device: str):
    return torch.float16 if device.startswith("cuda") else torch.float32


__all__ = ["EmbeddingInjector", "InjectionPlan", "load_pipeline", "step_progress", "dtype_for"]
