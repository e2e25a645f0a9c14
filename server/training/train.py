"""``motionscore train``: the textual-inversion training loop (only the encoders learn).

Targets are cached once per clip: EnCodec tokens for MusicGen (cross-entropy), VAE latents of the
spectrogram image (Riffusion) or of the log-mel spectrogram (AudioLDM) for noise prediction, Stable
Audio autoencoder latents (stereo, 44.1 kHz) for v-prediction on its cosine schedule.
AdamW with the published settings (lr 1e-4, betas 0.9/0.95, weight decay 0.01), linear warm-up
then cosine decay, gradient clipping at 1.0, bf16 autocast on GPU. Batches and the diffusion noise
depend only on (seed, step), so a run resumed from its last checkpoint continues exactly as if it
had not stopped. The optional negative objective adds the same loss for the reversed motion paired
with the reversed music (PN-Diffusion's negative condition).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from motionscore.shared.rhythm import extract_rhythm

from motionscore.server.generation.backbones import GenerationRequest, load_backbone
from motionscore.server.data.data_folder import load_split
from motionscore.server.model.checkpoint import load_checkpoint, save_checkpoint
from motionscore.server.model.device import resolve_device
from motionscore.server.model.encoders import EncoderConfig, Encoders, default_hidden


@dataclass
class TrainConfig:
    backbone: str
    model: str
    data: Path
    out: Path
    projector: str = "attn"
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 4
    lr: float = 1e-4
    warmup: float = 0.05
    weight_decay: float = 0.01
    clip: float = 1.0
    seed: int = 0
    device: str | None = None     # None: cuda when available, else cpu
    resume: bool = False
    negative_objective: bool = False
    save_every: int = 100
    val_every: int = 50
    hidden: int | None = None
    periodicity_lags: int = 0


@dataclass
class Clip:
    name: str
    request: GenerationRequest
    target: torch.Tensor
    negative: GenerationRequest | None = None
    negative_target: torch.Tensor | None = None


def _audio(path: Path, rate: int) -> np.ndarray:
    import librosa
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    return librosa.resample(audio, orig_sr=sr, target_sr=rate) if sr != rate else audio


@torch.no_grad()
def target_of(backbone, audio_path: Path, reverse: bool = False) -> torch.Tensor:
    """The training target of one clip (see module docstring), without a batch dimension."""
    name = backbone.name
    if name == "musicgen":
        wav = _audio(audio_path, backbone.mg.sample_rate)
        wav = wav[::-1].copy() if reverse else wav
        codes, _ = backbone.mg.compression_model.encode(torch.from_numpy(wav)[None, None].to(backbone.device))
        return codes[0]
    if name == "stableaudio":
        wav = _audio(audio_path, backbone.model_rate)
        wav = wav[::-1].copy() if reverse else wav
        return backbone.audio_latents(wav[None])
    vae = backbone.pipe.vae
    if name == "riffusion":
        from motionscore.server.generation.backbones import riffusion_audio

        wav = _audio(audio_path, riffusion_audio.SAMPLE_RATE)
        wav = wav[::-1].copy() if reverse else wav
        image = riffusion_audio.audio_to_image(wav).astype(np.float32)
        image = image[:, : image.shape[1] // 8 * 8] / 127.5 - 1.0
        pixels = torch.from_numpy(image)[None, None].repeat(1, 3, 1, 1)
    else:  # audioldm: log-mel at the vocoder's framing (hop 10 ms at 16 kHz)
        import librosa

        rate = backbone.pipe.vocoder.config.sampling_rate
        bins = backbone.pipe.vocoder.config.model_in_dim
        wav = _audio(audio_path, rate)
        wav = wav[::-1].copy() if reverse else wav
        mel = librosa.feature.melspectrogram(y=wav, sr=rate, n_fft=1024, hop_length=rate // 100, n_mels=bins,
                                             fmin=0, fmax=rate // 2)
        logmel = np.log(np.clip(mel, 1e-5, None)).T.astype(np.float32)  # (T, bins)
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        logmel = logmel[: logmel.shape[0] // factor * factor]
        pixels = torch.from_numpy(logmel)[None, None]
    latents = vae.encode(pixels.to(backbone.device, vae.dtype)).latent_dist.mean
    return (latents * vae.config.scaling_factor)[0].float()


def load_clips(backbone, root: Path, split: str, negative: bool, log=print) -> list[Clip]:
    clips = []
    for name, motion, audio_path in load_split(root, split):
        rhythm = extract_rhythm(motion)
        request = GenerationRequest(rhythm=rhythm, duration=motion.duration, sample_rate=16000, genre=motion.genre)
        clip = Clip(name, request, target_of(backbone, audio_path))
        if negative:
            clip.negative = replace(request, rhythm=extract_rhythm(motion.reversed()))
            clip.negative_target = target_of(backbone, audio_path, reverse=True)
        clips.append(clip)
    log(f"{split}: {len(clips)} clips, targets cached")
    return clips


def _stack(targets: list[torch.Tensor]) -> torch.Tensor:
    length = min(t.shape[-1] for t in targets)
    return torch.stack([t[..., :length] for t in targets])


def batch_loss(backbone, clips: list[Clip], step_seed: int, negative: bool) -> torch.Tensor:
    generator = torch.Generator().manual_seed(step_seed)
    targets = _stack([c.target for c in clips]).to(backbone.device)
    requests = [c.request for c in clips]
    if backbone.name == "musicgen":
        loss = backbone.training_loss(targets, requests)
    else:
        loss = backbone.training_loss(targets, requests, generator)
    if negative:
        neg_targets = _stack([c.negative_target for c in clips]).to(backbone.device)
        neg_requests = [c.negative for c in clips]
        extra = backbone.training_loss(neg_targets, neg_requests) if backbone.name == "musicgen" else \
            backbone.training_loss(neg_targets, neg_requests, generator)
        loss = loss + 0.5 * extra
    return loss


def _schedule(step: int, total: int, warmup: float) -> float:
    warm = max(1, int(total * warmup))
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _state_path(out: Path) -> Path:
    return out.with_name(out.stem + ".train-state.pt")


def _save_state(out: Path, optimizer, step: int, config: TrainConfig) -> None:
    """Optimizer state next to the checkpoint (tensors and plain data only: loads with weights_only)."""
    path = _state_path(out)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "seed": config.seed}, tmp)
    tmp.replace(path)


def check_config(config: TrainConfig) -> None:
    """Refuse settings that cannot train (one-line ValueError naming the option)."""
    for option, value in (("--steps", config.steps), ("--epochs", config.epochs)):
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1 (got {value})")
    for option, value in (("--batch-size", config.batch_size), ("--save-every", config.save_every),
                          ("--val-every", config.val_every)):
        if value < 1:
            raise ValueError(f"{option} must be at least 1 (got {value})")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise ValueError(f"--lr must be a positive number (got {config.lr})")
    if not config.data.is_dir():
        raise ValueError(f"{config.data}: no such data folder")
    if not (config.data / "train").is_dir():
        raise ValueError(f"{config.data}: no train/ folder (see README: data folder format)")


def train(config: TrainConfig, log=print, backbone=None) -> dict:
    """Run the loop; returns a summary (steps, first/last loss, val loss, seconds).

    ``backbone``: an already loaded backbone to train against (the learning proof's pretrained
    tiny model, whose device then wins over ``config.device``); by default
    ``config.backbone``/``config.model`` are loaded. Bad settings raise ValueError before anything
    slow happens.
    """
    check_config(config)
    torch.manual_seed(config.seed)
    if backbone is None:
        config = replace(config, device=resolve_device(config.device))
        backbone = load_backbone(config.backbone, model=config.model, device=config.device)
    else:
        config = replace(config, device=str(backbone.device))
    resuming = config.resume and config.out.exists()
    # Built (and so validated) before the slow target caching.
    fresh = None if resuming else EncoderConfig(dim=backbone.text_dim, projector=config.projector,
                                                hidden=config.hidden or default_hidden(backbone.text_dim),
                                                periodicity_lags=config.periodicity_lags)
    train_clips = load_clips(backbone, config.data, "train", config.negative_objective, log)
    val_clips = load_clips(backbone, config.data, "val", config.negative_objective, log)
    if not train_clips:
        raise ValueError(f"{config.data}/train has no usable pairs (run `motionscore data check`)")
    batch = min(config.batch_size, len(train_clips))
    per_epoch = math.ceil(len(train_clips) / batch)
    total = config.steps or per_epoch * (config.epochs or 20)
    if resuming:
        ckpt = load_checkpoint(config.out, backbone=backbone.name, dim=backbone.text_dim, device=config.device)
        encoders = ckpt.encoders
        state = torch.load(_state_path(config.out), map_location=config.device, weights_only=True)
        start = int(state["step"])
        if ckpt.extra.get("step") != start:
            raise ValueError(f"{config.out} (step {ckpt.extra.get('step')}) and its training state (step {start}) "
                             f"do not match; the run was interrupted while saving: start again without --resume")
        log(f"resuming at step {start}")
    else:
        encoders = Encoders(fresh).to(config.device)
        state, start = None, 0
    for p in encoders.parameters():
        p.requires_grad_(True)
    backbone.encoders, backbone.encoders_id = encoders, str(config.out)
    optimizer = torch.optim.AdamW(encoders.parameters(), lr=config.lr, betas=(0.9, 0.95),
                                  weight_decay=config.weight_decay)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    use_amp = config.device.startswith("cuda")
    losses, val_loss, started = [], None, time.perf_counter()
    step = start
    try:
        for step in range(start, total):
            encoders.train()
            order = np.random.default_rng(config.seed + step // per_epoch).permutation(len(train_clips))
            first = (step % per_epoch) * batch
            chosen = [train_clips[i] for i in order[first:first + batch]] or [train_clips[order[0]]]
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _schedule(step, total, config.warmup)
            torch.manual_seed(config.seed * 1_000_003 + step)  # dropout too depends only on (seed, step)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                loss = batch_loss(backbone, chosen, config.seed * 1_000_003 + step, config.negative_objective)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoders.parameters(), config.clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            done = step + 1
            if val_clips and (done % config.val_every == 0 or done == total):
                val_loss = evaluate(backbone, val_clips, config)
            if done % config.save_every == 0 or done == total:
                _checkpoint(config, backbone, encoders, optimizer, done, losses, val_loss)
            rate = (done - start) / (time.perf_counter() - started)
            log(f"step {done}/{total}  loss {losses[-1]:.4f}" + (f"  val {val_loss:.4f}" if val_loss is not None else "")
                + f"  {rate:.2f} steps/s")
    except KeyboardInterrupt:
        log("interrupted: the last checkpoint is intact")
        raise
    return {"steps": total - start, "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None, "val_loss": val_loss,
            "seconds": round(time.perf_counter() - started, 2)}


@torch.no_grad()
def evaluate(backbone, clips: list[Clip], config: TrainConfig) -> float:
    backbone.encoders.eval()
    values = []
    for i in range(0, len(clips), config.batch_size):
        values.append(float(batch_loss(backbone, clips[i:i + config.batch_size], 12345 + i, False)))
    return float(np.mean(values))


def _checkpoint(config, backbone, encoders, optimizer, step, losses, val_loss) -> None:
    extra = {"step": step, "train_loss": losses[-1] if losses else None, "val_loss": val_loss,
             "projector": encoders.config.projector, "negative_objective": config.negative_objective}
    # Both files carry the step; resuming refuses a pair whose steps differ.
    _save_state(config.out, optimizer, step, config)
    save_checkpoint(config.out, encoders, backbone.name, backbone.model_id, extra=json.loads(json.dumps(extra)))
