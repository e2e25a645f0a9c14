"""`audioldm`: AudioLDM (diffusers), pseudo-words inside the CLAP text encoder before pooling.

AudioLDM conditions its UNet on one pooled, L2-normalised CLAP text embedding per prompt (passed
as class labels). A forward hook on CLAP's (RoBERTa) token embedding overwrites the ``*`` and ``@``
rows; the text model pools and projects as usual, and we normalise the result ourselves (the
pipeline does not normalise embeddings it is given). Negative motion replaces the empty negative
prompt by the same prompt conditioned on the reversed motion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from motionscore.server.model.weights import missing_weights_hint

from .base import Backbone, Generation, GenerationRequest, ProgressFn, no_progress
from .diffusion_common import GENRE_TOKEN, RHYTHM_TOKEN, DiffusionBackboneMixin, noise_prediction_loss, step_progress
from .ml_common import MLBackboneMixin, exact_length

DEFAULT_GUIDANCE = 2.5
DEFAULT_STEPS = 10
TINY_STEPS = 4


def build_tiny_audioldm(seed: int = 0, device: str = "cpu"):
    """A small random AudioLDM pipeline (real classes, real 100 frames/s mel framing), offline."""
    from diffusers import AudioLDMPipeline, AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig

    from motionscore.server.model.tokenizers import TEMPO_PROMPT_WORDS, word_level_tokenizer

    torch.manual_seed(seed)
    tokenizer = word_level_tokenizer([RHYTHM_TOKEN, GENRE_TOKEN], eos="</s>", extra_words=TEMPO_PROMPT_WORDS)
    tokenizer.model_max_length = 64
    text = ClapTextModelWithProjection(ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        projection_dim=32, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id))
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=(32, 64),
                                class_embed_type="simple_projection", projection_class_embeddings_input_dim=32,
                                class_embeddings_concat=True, norm_num_groups=8, attention_head_dim=8)
    vae = AutoencoderKL(block_out_channels=[16, 32], in_channels=1, out_channels=1,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, norm_num_groups=8)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=8, sampling_rate=16000, upsample_initial_channel=64, upsample_rates=[5, 4, 2, 2, 2],
        upsample_kernel_sizes=[10, 8, 4, 4, 4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        normalize_before=False))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return AudioLDMPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                            vocoder=vocoder).to(device)


class AudioLDMBackbone(DiffusionBackboneMixin, MLBackboneMixin, Backbone):
    name = "audioldm"
    window_s = 10.24  # AudioLDM's training clips are 10.24 s

    def __init__(self, model: str = "tiny", encoders: str | None = None, device: str | None = None,
                 encoders_format: str = "motionscore", steps: int | None = None, pipeline=None, **_ignored):
        """``pipeline``: an already built AudioLDMPipeline (benchmarks pass real-size random ones)."""
        from diffusers import AudioLDMPipeline

        self.init_pipeline(model, device, steps, pipeline, AudioLDMPipeline, build_tiny_audioldm,
                           missing_weights_hint("audioldm", model), DEFAULT_STEPS, TINY_STEPS)
        self.setup_pseudo_words((self.pipe.unet, self.pipe.vae, self.pipe.text_encoder, self.pipe.vocoder),
                                encoders, encoders_format)

    def text_embeddings(self, texts: list[str], vectors: torch.Tensor | None, grad: bool = False) -> torch.Tensor:
        """Pooled, projected, L2-normalised CLAP text embeddings (B, P)."""
        tok = self.pipe.tokenizer(texts, padding="max_length", max_length=self.pipe.tokenizer.model_max_length,
                                  truncation=True, return_tensors="pt")
        with torch.set_grad_enabled(grad), self.injector.active(vectors):
            out = self.pipe.text_encoder(tok["input_ids"].to(self.device),
                                         attention_mask=tok["attention_mask"].to(self.device))
        return F.normalize(out.text_embeds, dim=-1)

    def _generate_windows(self, requests: list[GenerationRequest], progress: ProgressFn = no_progress) -> list[Generation]:
        texts, prompt, negative_embeds = self.conditioning(requests)
        duration = max(r.duration for r in requests)
        generator = [torch.Generator(device="cpu").manual_seed(r.seed) for r in requests]
        with torch.no_grad():
            audio = self.pipe(prompt_embeds=prompt, negative_prompt_embeds=negative_embeds, audio_length_in_s=duration,
                              num_inference_steps=self.steps, guidance_scale=requests[0].guidance or DEFAULT_GUIDANCE,
                              generator=generator, output_type="np",
                              callback=step_progress(progress, self.steps), callback_steps=1).audios
        rate = self.pipe.vocoder.config.sampling_rate
        return [Generation(audio=exact_length(a, rate, r), sample_rate=r.sample_rate, genre=r.genre,
                           notes=self.notes(r), info={"prompt_text": t, "steps": self.steps, "model_rate": rate})
                for a, r, t in zip(audio, requests, texts)]

    def training_loss(self, latents: torch.Tensor, requests: list[GenerationRequest],
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise-prediction MSE on mel latents; the CLAP embedding is the UNet's class label."""
        return noise_prediction_loss(self.pipe.unet, self.pipe.scheduler, latents, generator,
                                     encoder_hidden_states=None, class_labels=self.training_embeddings(requests))
