"""`riffusion`: Stable Diffusion v1 on spectrogram images (diffusers), pseudo-words in CLIP.

The pseudo-words are ``*`` (rhythm) and ``@`` (genre), single tokens of CLIP's tokenizer as in the
published prompt. A forward hook on CLIP's token embedding overwrites exactly those rows before
position embeddings are added; the resulting ``prompt_embeds`` (B, 77, 768) go to the pipeline,
and with negative motion on, ``negative_prompt_embeds`` are the same prompt with the reversed
motion's rhythm instead of the empty prompt. Images are 512 mel bins high and 100 px per second
wide (a multiple of 8), converted to 44.1 kHz audio by :mod:`.riffusion_audio`.
"""

from __future__ import annotations

import math

import torch

from motionscore.server.model.weights import missing_weights_hint

from . import riffusion_audio
from .base import Backbone, Generation, GenerationRequest, ProgressFn, no_progress
from .diffusion_common import GENRE_TOKEN, RHYTHM_TOKEN, DiffusionBackboneMixin, noise_prediction_loss, step_progress
from .ml_common import MLBackboneMixin, exact_length

DEFAULT_GUIDANCE = 7.5
DEFAULT_STEPS = 50
TINY_STEPS = 4
#: Tiny models only exercise the code: 4 Griffin-Lim iterations instead of the published 32.
TINY_GRIFFIN_LIM_ITERS = 4


def build_tiny_riffusion(seed: int = 0, device: str = "cpu"):
    """A small random Stable Diffusion pipeline (same classes as the real one), offline, deterministic."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from motionscore.server.model.tokenizers import TEMPO_PROMPT_WORDS, word_level_tokenizer

    torch.manual_seed(seed)
    tokenizer = word_level_tokenizer([RHYTHM_TOKEN, GENRE_TOKEN], eos="<|endoftext|>", extra_words=TEMPO_PROMPT_WORDS)
    tokenizer.model_max_length = 77
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37,
                                        num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=77,
                                        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                        bos_token_id=tokenizer.eos_token_id))
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=64, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=[8, 8, 16, 16], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        latent_channels=4, norm_num_groups=8)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return pipe.to(device)


class RiffusionBackbone(DiffusionBackboneMixin, MLBackboneMixin, Backbone):
    name = "riffusion"

    def __init__(self, model: str = "tiny", encoders: str | None = None, device: str | None = None,
                 encoders_format: str = "motionscore", steps: int | None = None, pipeline=None, **_ignored):
        """``pipeline``: an already built StableDiffusionPipeline (benchmarks pass real-size random
        ones), used as real weights would be; ``model`` then only names it."""
        from diffusers import StableDiffusionPipeline

        tiny = self.init_pipeline(model, device, steps, pipeline, StableDiffusionPipeline, build_tiny_riffusion,
                                  missing_weights_hint("riffusion", model), DEFAULT_STEPS, TINY_STEPS)
        self.griffin_lim_iters = TINY_GRIFFIN_LIM_ITERS if tiny else riffusion_audio.GRIFFIN_LIM_ITERS
        self.setup_pseudo_words((self.pipe.unet, self.pipe.vae, self.pipe.text_encoder), encoders, encoders_format)

    def text_embeddings(self, texts: list[str], vectors: torch.Tensor | None, grad: bool = False) -> torch.Tensor:
        """CLIP last hidden states (B, 77, D) with pseudo-word rows from ``vectors`` (B, 2, D)."""
        tok = self.pipe.tokenizer(texts, padding="max_length", max_length=self.pipe.tokenizer.model_max_length,
                                  truncation=True, return_tensors="pt")
        with torch.set_grad_enabled(grad), self.injector.active(vectors):
            return self.pipe.text_encoder(tok["input_ids"].to(self.device))[0]

    def _generate_windows(self, requests: list[GenerationRequest], progress: ProgressFn = no_progress) -> list[Generation]:
        texts, prompt, negative_embeds = self.conditioning(requests)
        duration = max(r.duration for r in requests)
        # One column more than the duration: Griffin-Lim returns (W - 1) hops.
        width = max(8, int(math.ceil((duration * riffusion_audio.PIXELS_PER_SECOND + 1) / 8)) * 8)
        generator = [torch.Generator(device="cpu").manual_seed(r.seed) for r in requests]
        with torch.no_grad():
            images = self.pipe(prompt_embeds=prompt, negative_prompt_embeds=negative_embeds, height=512, width=width,
                               num_inference_steps=self.steps, guidance_scale=requests[0].guidance or DEFAULT_GUIDANCE,
                               generator=generator, output_type="np",
                               callback_on_step_end=step_progress(lambda f, s: progress(0.8 * f, s), self.steps)).images
        out = []
        for i, (image, r) in enumerate(zip(images, requests)):
            progress(0.8 + 0.2 * i / len(requests), "spectrogram to audio")
            gray = image.mean(axis=-1)  # (512, W) in [0, 1]
            audio = riffusion_audio.image_to_audio(gray, seconds=r.duration, iterations=self.griffin_lim_iters,
                                                   device="cuda" if self.device.startswith("cuda") else "cpu")
            out.append(Generation(audio=exact_length(audio, riffusion_audio.SAMPLE_RATE, r), sample_rate=r.sample_rate,
                                  genre=r.genre, notes=self.notes(r),
                                  info={"prompt_text": texts[i], "steps": self.steps, "image_width": width}))
        return out

    def training_loss(self, latents: torch.Tensor, requests: list[GenerationRequest],
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise-prediction MSE on spectrogram-image latents (B, 4, 64, W/8); only the encoders learn."""
        return noise_prediction_loss(self.pipe.unet, self.pipe.scheduler, latents, generator,
                                     encoder_hidden_states=self.training_embeddings(requests))
