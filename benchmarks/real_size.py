"""Real-size diffusion pipelines with random weights: the published architectures, for speed only.

Speed needs no weights: these have the layer counts and widths of the released models, so a GPU
measures their real cost. The tokenizers are the tiny models' (the text length is what costs, and
it is padded to the released models' 77 / 64 / 128 tokens here too). Published sizes to compare
with the parameter counts the benchmark prints: Stable Audio Open 1.0 DiT ~1.06 B; Stable
Diffusion 1.5 UNet (Riffusion) ~860 M; AudioLDM-S UNet ~181 M.
"""

from __future__ import annotations


def stableaudio_pipeline():
    """Stable Audio Open 1.0: the diffusers classes' defaults are its configuration; T5-base text."""
    from diffusers import AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel, StableAudioPipeline
    from diffusers.pipelines.stable_audio import StableAudioProjectionModel
    from transformers import T5Config, T5EncoderModel

    from motionscore.server.generation.backbones.stableaudio import build_tiny_stableaudio

    tokenizer = build_tiny_stableaudio().tokenizer
    tokenizer.model_max_length = 128  # the released tokenizer's length
    text = T5EncoderModel(T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12))
    scheduler = CosineDPMSolverMultistepScheduler(sigma_min=0.3, sigma_max=500, solver_order=2,
                                                  prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential")
    return StableAudioPipeline(vae=AutoencoderOobleck(), text_encoder=text,
                               projection_model=StableAudioProjectionModel(768, 768, 0, 512), tokenizer=tokenizer,
                               transformer=StableAudioDiTModel(), scheduler=scheduler)


def riffusion_pipeline():
    """Riffusion v1 = Stable Diffusion 1.5: UNet 320-640-1280-1280, CLIP ViT-L/14 text, the SD VAE."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from motionscore.server.generation.backbones.riffusion import build_tiny_riffusion

    tokenizer = build_tiny_riffusion().tokenizer
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                                        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                        bos_token_id=tokenizer.eos_token_id))
    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, cross_attention_dim=768)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        latent_channels=4, sample_size=512)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def audioldm_pipeline():
    """AudioLDM-S (cvssp/audioldm-s-full-v2's layout): UNet 128-256-384-640 with the CLAP embedding
    as a concatenated class label, 8-channel mel VAE, CLAP text (RoBERTa-base), 64-mel HiFi-GAN."""
    from diffusers import AudioLDMPipeline, AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig

    from motionscore.server.generation.backbones.audioldm import build_tiny_audioldm

    tokenizer = build_tiny_audioldm().tokenizer
    tokenizer.model_max_length = 77
    text = ClapTextModelWithProjection(ClapTextConfig(
        vocab_size=50265, hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
        projection_dim=512, max_position_embeddings=514, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id))
    channels = (128, 256, 384, 640)
    unet = UNet2DConditionModel(sample_size=128, in_channels=8, out_channels=8, block_out_channels=channels,
                                layers_per_block=2, attention_head_dim=tuple(c // 32 for c in channels),
                                down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * 3,
                                up_block_types=("CrossAttnUpBlock2D",) * 3 + ("UpBlock2D",),
                                cross_attention_dim=channels, class_embed_type="simple_projection",
                                projection_class_embeddings_input_dim=512, class_embeddings_concat=True)
    vae = AutoencoderKL(in_channels=1, out_channels=1, block_out_channels=(128, 256, 512), layers_per_block=2,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                        latent_channels=8)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=64, sampling_rate=16000, upsample_initial_channel=1024, upsample_rates=[5, 4, 2, 2, 2],
        upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7, 11],
        resblock_dilation_sizes=[[1, 3, 5]] * 3, normalize_before=False))
    scheduler = DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return AudioLDMPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                            vocoder=vocoder)


BUILDERS = {"stableaudio": stableaudio_pipeline, "riffusion": riffusion_pipeline, "audioldm": audioldm_pipeline}
