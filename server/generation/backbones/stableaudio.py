"""`stableaudio`: Stable Audio Open (diffusers `StableAudioPipeline`), pseudo-words in T5's input.

Stable Audio Open conditions a diffusion transformer on T5 token states (through a projection
model) plus timing (seconds start / seconds total). A forward hook on T5's token embedding writes
the ``*`` and ``@`` rows, as for AudioLDM and MusicGen; the pipeline takes the resulting states as
``prompt_embeds`` with their attention mask. Negative motion gives ``negative_prompt_embeds`` (the
same prompt with the reversed motion's pseudo-words); without it the pipeline's own unconditional
branch (zero states) is used, as the model was trained.

Length: the pipeline always denoises its full ``sample_size`` latent (1024 frames, ~47.55 s at
44.1 kHz) and crops afterwards. Here the latent is cut to the request's length (rounded up to
LATENT_QUANTUM frames) for the call, so a 5 s take costs about a ninth of a 47 s one; timing
conditioning still says the real seconds. Shots longer than one call go in windows joined on beats.

Audio is 44.1 kHz stereo; Generation carries both channels (see GenerationRequest.channels).
"""

from __future__ import annotations

import math
import threading
import warnings
from contextlib import contextmanager

import numpy as np
import torch

from motionscore.server.model.weights import missing_weights_hint

from .base import Backbone, Generation, GenerationRequest, ProgressFn, no_progress
from .diffusion_common import GENRE_TOKEN, RHYTHM_TOKEN, DiffusionBackboneMixin, step_progress
from .ml_common import MLBackboneMixin, exact_length

DEFAULT_GUIDANCE = 7.0
DEFAULT_STEPS = 100  # the pipeline's default; fewer steps are a quality trade nobody measured here
TINY_STEPS = 4
#: The latent is cut to a multiple of this many frames (2048 samples each at 44.1 kHz).
LATENT_QUANTUM = 16
HUB_ID = "stabilityai/stable-audio-open-1.0"

# torchsde's Brownian interval complains about float rounding at the ends of the sigma range on
# every call (the diffusers scheduler's known, harmless quirk); Oobleck uses the older weight_norm.
warnings.filterwarnings("ignore", message=r"Should have t[ab]", category=UserWarning)
warnings.filterwarnings("ignore", message=r".*torch\.nn\.utils\.weight_norm.* is deprecated", category=FutureWarning)


def build_tiny_stableaudio(seed: int = 0, device: str = "cpu"):
    """A small random Stable Audio pipeline: real classes, the real 2048-sample latent framing at
    44.1 kHz stereo and the real 1024-frame latent, tiny widths; offline."""
    from diffusers import AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel, StableAudioPipeline
    from diffusers.pipelines.stable_audio import StableAudioProjectionModel
    from transformers import T5Config, T5EncoderModel

    from motionscore.server.model.tokenizers import TEMPO_PROMPT_WORDS, word_level_tokenizer

    torch.manual_seed(seed)
    tokenizer = word_level_tokenizer([RHYTHM_TOKEN, GENRE_TOKEN], eos="</s>", extra_words=TEMPO_PROMPT_WORDS)
    tokenizer.model_max_length = 64
    text = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                   pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id))
    conditioning = 32
    projection = StableAudioProjectionModel(text_encoder_dim=32, conditioning_dim=conditioning, min_value=0,
                                            max_value=512)
    # The encoder ends with 2x the latent channels (mean and scale), as 128 -> 64 in the real model.
    vae = AutoencoderOobleck(encoder_hidden_size=16, downsampling_ratios=[2, 4, 4, 8, 8],
                             channel_multiples=[1, 2, 2, 2, 2], decoder_channels=8, decoder_input_channels=8,
                             audio_channels=2, sampling_rate=44100)
    transformer = StableAudioDiTModel(sample_size=1024, in_channels=8, num_layers=2, attention_head_dim=8,
                                      num_attention_heads=4, num_key_value_attention_heads=2, out_channels=8,
                                      cross_attention_dim=32, time_proj_dim=16, global_states_input_dim=2 * conditioning,
                                      cross_attention_input_dim=conditioning)
    scheduler = CosineDPMSolverMultistepScheduler(sigma_min=0.3, sigma_max=500, solver_order=2,
                                                  prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential")
    return StableAudioPipeline(vae=vae, text_encoder=text, projection_model=projection, tokenizer=tokenizer,
                               transformer=transformer, scheduler=scheduler).to(device)


class StableAudioBackbone(DiffusionBackboneMixin, MLBackboneMixin, Backbone):
    name = "stableaudio"
    channels = 2
    window_s = 47.0  # one call covers up to the model's ~47.55 s
    window_overlap_s = 2.0
    max_batch = 4

    def __init__(self, model: str = "tiny", encoders: str | None = None, device: str | None = None,
                 encoders_format: str = "motionscore", steps: int | None = None, pipeline=None, **_ignored):
        """``pipeline``: an already built StableAudioPipeline (benchmarks pass real-size random ones)."""
        from diffusers import StableAudioPipeline

        self.init_pipeline(model, device, steps, pipeline, StableAudioPipeline, build_tiny_stableaudio,
                           missing_weights_hint("stableaudio", model), DEFAULT_STEPS, TINY_STEPS)
        # The sample_size override below is per call; one call at a time keeps it honest.
        self._call_lock = threading.Lock()
        self.setup_pseudo_words((self.pipe.transformer, self.pipe.vae, self.pipe.text_encoder,
                                 self.pipe.projection_model), encoders, encoders_format)

    @property
    def text_dim(self) -> int:
        return self.pipe.text_encoder.config.d_model

    def token_embedding(self) -> torch.nn.Module:
        # T5EncoderModel's stack embeds through encoder.embed_tokens, which (in transformers 5) is a
        # module of its own sharing the weight of get_input_embeddings(): hook the one that runs.
        return self.pipe.text_encoder.encoder.embed_tokens

    @property
    def model_rate(self) -> int:
        return int(self.pipe.vae.config.sampling_rate)

    @property
    def hop(self) -> int:
        """Audio samples per latent frame (2048 for Stable Audio Open)."""
        return int(np.prod(self.pipe.vae.config.downsampling_ratios))

    def latent_frames(self, seconds: float) -> int:
        """Latent frames a call of ``seconds`` needs: rounded up to LATENT_QUANTUM, at most the model's."""
        frames = math.ceil(seconds * self.model_rate / self.hop / LATENT_QUANTUM) * LATENT_QUANTUM
        return int(min(max(frames, LATENT_QUANTUM), self.full_frames))

    @property
    def full_frames(self) -> int:
        return int(getattr(self, "_full_frames", None) or self.pipe.transformer.config.sample_size)

    @contextmanager
    def _latent_length(self, frames: int):
        """Make the pipeline denoise ``frames`` latent frames instead of its full sample_size."""
        self._full_frames = self.full_frames
        self.pipe.transformer.register_to_config(sample_size=frames)
        try:
            yield
        finally:
            self.pipe.transformer.register_to_config(sample_size=self._full_frames)

    def text_states(self, texts: list[str], vectors: torch.Tensor | None, grad: bool = False):
        """T5 last hidden states (B, L, D) with the pseudo-word rows written, and the mask (B, L)."""
        tok = self.pipe.tokenizer(texts, padding="max_length", max_length=self.pipe.tokenizer.model_max_length,
                                  truncation=True, return_tensors="pt")
        mask = tok["attention_mask"].to(self.device)
        with torch.set_grad_enabled(grad), self.injector.active(vectors):
            states = self.pipe.text_encoder(tok["input_ids"].to(self.device), attention_mask=mask).last_hidden_state
        return states, mask

    def text_embeddings(self, texts: list[str], vectors: torch.Tensor | None, grad: bool = False) -> torch.Tensor:
        return self.text_states(texts, vectors, grad)[0]

    def _generate_windows(self, requests: list[GenerationRequest], progress: ProgressFn = no_progress) -> list[Generation]:
        texts = self.texts(requests)
        vectors, negative = self.encode(requests)
        duration = max(r.duration for r in requests)
        frames = self.latent_frames(duration)
        generator = [torch.Generator(device="cpu").manual_seed(r.seed) for r in requests]
        with torch.no_grad():
            states, mask = self.text_states(texts, vectors)
            kwargs = {}
            if negative is not None:
                kwargs["negative_prompt_embeds"], kwargs["negative_attention_mask"] = self.text_states(texts, negative)
            with self._call_lock, self._latent_length(frames):
                audio = self.pipe(prompt_embeds=states, attention_mask=mask, audio_start_in_s=0.0,
                                  audio_end_in_s=duration, num_inference_steps=self.steps,
                                  guidance_scale=requests[0].guidance or DEFAULT_GUIDANCE, generator=generator,
                                  output_type="np", callback=step_progress(progress, self.steps),
                                  callback_steps=1, **kwargs).audios  # (B, 2, samples)
        out = []
        for a, r, t in zip(audio, requests, texts):
            channels = np.stack([exact_length(channel, self.model_rate, r) for channel in a], axis=1)  # (N, 2)
            out.append(Generation(audio=channels if r.channels == 2 else channels.mean(axis=1), sample_rate=r.sample_rate,
                                  genre=r.genre, notes=self.notes(r),
                                  info={"prompt_text": t, "steps": self.steps, "model_rate": self.model_rate,
                                        "latent_frames": frames, "full_latent_frames": self.full_frames}))
        return out

    def audio_latents(self, wav: np.ndarray) -> torch.Tensor:
        """(channels, samples) audio at the model's rate -> (C, T) autoencoder latents (means)."""
        audio = torch.as_tensor(np.asarray(wav, dtype=np.float32))
        if audio.shape[0] == 1:
            audio = audio.repeat(self.pipe.vae.config.audio_channels, 1)
        vae = self.pipe.vae
        return vae.encode(audio[None].to(self.device, vae.dtype)).latent_dist.mean[0].float()

    def training_loss(self, latents: torch.Tensor, requests: list[GenerationRequest],
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Stable Audio's objective on autoencoder latents (B, C, T): v-prediction on the cosine
        schedule the pipeline samples with (x_t = cos(t pi/2) x + sin(t pi/2) n, the transformer
        sees t, predicts v = cos n - sin x); the conditioning is the prompt with the pseudo-words
        and the clip's timing. Only the encoders learn."""
        batch = latents.shape[0]
        noise = torch.randn(latents.shape, generator=generator, device="cpu").to(latents)
        t = torch.rand((batch,), generator=generator, device="cpu").to(latents)
        alpha, sigma = torch.cos(t * math.pi / 2)[:, None, None], torch.sin(t * math.pi / 2)[:, None, None]
        noisy = alpha * latents + sigma * noise
        vectors, _ = self.encode(requests, grad=True)
        states, mask = self.text_states(self.texts(requests), vectors, grad=True)
        projection = self.pipe.projection_model
        seconds = torch.tensor([r.duration for r in requests], device=latents.device, dtype=latents.dtype)
        out = projection(text_hidden_states=states, start_seconds=torch.zeros_like(seconds), end_seconds=seconds)
        text = out.text_hidden_states * mask[..., None].to(latents.dtype)
        start, end = out.seconds_start_hidden_states, out.seconds_end_hidden_states
        from diffusers.models.embeddings import get_1d_rotary_pos_embed

        rotary = get_1d_rotary_pos_embed(self.pipe.rotary_embed_dim, latents.shape[2] + 1, use_real=True,
                                         repeat_interleave_real=False)
        prediction = self.pipe.transformer(noisy, t, encoder_hidden_states=torch.cat([text, start, end], dim=1),
                                           global_hidden_states=torch.cat([start, end], dim=2),
                                           rotary_embedding=rotary, return_dict=False)[0]
        target = alpha * noise - sigma * latents
        return torch.nn.functional.mse_loss(prediction.float(), target.float())
