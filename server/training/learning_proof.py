"""The learning proof: do trained encoders make a frozen backbone follow the motion?

In the synthetic dance-music world (:mod:`.synthetic_world`), with MusicGen's architecture at a size a CPU
trains in minutes:

1. **Pretrain** a tiny MusicGen on music of its own world (disjoint from the encoders' data, as
   MusicGen never saw AIST++): its codec to reconstruct the music,
   then its LM under text-only captions (genre, tempo and first beat in words, see
   :mod:`.pretrain`), so it can make beats at all; then freeze it.
2. **Train the encoders** on a second world's training pairs with ``motionscore train``'s loop
   against that frozen backbone: the
   prompt is ``a @ music with * as the rhythm``, the encoders see only the motion and its genre.
3. **Generate** for held-out motions and measure beat F1 (0.2 s) between the motion's kinematic
   beats and the beats librosa finds in the generated audio, for

   - ``trained``: the trained encoders on the clip's own motion;
   - ``untrained``: the same encoder architecture, freshly initialised with the same seed;
   - ``shuffled``: the trained encoders given another held-out clip's rhythm (a derangement), so
     the genre is right but the rhythm belongs to a different dance;
   - ``time-shuffled``: the trained encoders given the clip's own onsets in random order;
   - ``caption``: no encoders, the caption with the true tempo written in words (what the
     pretrained backbone can do when told the tempo: a ceiling for the encoders);
   - ``codec round trip``: that music through the fitted codec (what the backbone's decoder allows);
   - ``world music``: the world's own music for those motions (the data's ceiling).

Everything is seeded; the report is a dict (``run_proof``) that ``benchmarks/learning_proof.py``
prints and saves as JSON.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from motionscore.shared.rhythm import Rhythm, extract_rhythm

from motionscore.server.analysis.metrics import DEFAULT_TOLERANCE, TIGHT_TOLERANCE, beat_scores, score_take
from motionscore.server.evaluation.paired import paired_comparison
from motionscore.server.generation.backbones import GenerationRequest
from motionscore.server.generation.backbones.musicgen import TinyMusicGenSpec, save_pretrained
from motionscore.server.model.captions import caption
from motionscore.server.model.encoders import Encoders
from motionscore.server.model.pseudo_words import InjectionPlan
from motionscore.server.data.data_folder import load_split
from .pretrain import CodecConfig, PretrainConfig, codec_usage, fit_codec, load_pretrained, pretrain_lm
from motionscore.server.data.synthetic_world import make_world
from .train import TrainConfig, _audio, target_of, train

#: A fitted codec whose first codebook's perplexity on the pretraining music is below this has
#: collapsed onto a few codes and leaves the LM nothing to model (seed 1 with seed 0's backbone:
#: 2 codes, perplexity 1.02, the LM's loss at 0.01 by step 200; healthy fits: about 20 codes,
#: perplexity 8.7). It is then fitted again from its initial weights with other batches, at most
#: CODEC_ATTEMPTS times, each attempt's codec seed CODEC_RETRY_SEED further on.
MIN_CODEC_PERPLEXITY = 3.0
CODEC_ATTEMPTS = 3
CODEC_RETRY_SEED = 1000
CODEC_USAGE_CLIPS = 64

#: The backbone's world is drawn from seeds of its own, so that no seed's pretraining music is another
#: seed's paired data (with ``seed + 1`` seed 1's encoder world was seed 0's pretraining world).
PRETRAIN_WORLD_SEED = 10_000

CONDITIONS = ("trained", "untrained", "shuffled", "time-shuffled", "caption", "codec round trip", "world music")
#: Per-condition means in the report: F1 at the configured tolerance (0.2 s), F1 at 70 ms (the
#: MIREX beat tolerance, where a right tempo with a random phase no longer scores), the alignment
#: score, and the fraction of takes whose tempo is within 5 % of the motion's.
METRICS = ("f1", "f1_70ms", "alignment", "tempo_ok")


@dataclass
class ProofConfig:
    work: Path
    pretrain_clips: int = 600
    #: Paired clips for the encoders: 2.5 % validation, 7.5 % held out (180 test motions), 2,160 to
    #: train on. With 320 training clips the encoders overfit (validation loss lowest at step 150);
    #: with 2,352 it still fell at step 1,200, and tempo agreement rose from 35 % to 57 %.
    clips: int = 2400
    val_fraction: float = 0.025
    test_fraction: float = 0.075
    seconds: float = 5.12
    spec: TinyMusicGenSpec = field(default_factory=TinyMusicGenSpec)
    codec: CodecConfig = field(default_factory=CodecConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    encoder_steps: int = 1200
    encoder_batch: int = 16
    encoder_lr: float = 1e-3
    projector: str = "attn"
    #: The rhythm projector also reads the onsets' autocorrelation (``EncoderConfig.periodicity_lags``):
    #: with the onsets alone (0) the encoders told the backbone the right tempo in 25 % of the
    #: held-out takes, with 90 lags in 45 % (development runs on an 800-step backbone, seed 0).
    periodicity_lags: int = 90
    guidance: float = 1.0
    #: MusicGen's token decoder for the held-out generations. The figures in the README were made
    #: with audiocraft's loop; the fast decoder gives the same tokens (tests/models/test_musicgen_decoder.py).
    decoder: str = "audiocraft"
    seed: int = 0
    tolerance: float = DEFAULT_TOLERANCE
    #: Processes rendering the worlds (the same files whatever the number).
    workers: int = field(default_factory=lambda: min(os.cpu_count() or 1, 8))


def _world(config: ProofConfig, name: str, clips: int, seed: int, val: float, test: float, log) -> dict:
    """Make (or reuse, when it matches) the synthetic world WORK/name; returns its metadata."""
    root = config.work / name
    meta_path = root / "metadata.json"
    stamp = {"clips": clips, "seed": seed, "seconds": config.seconds, "val": val, "test": test}
    stamp_path = config.work / f"{name}.json"
    if meta_path.exists() and stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp:
        log(f"reusing the synthetic world in {root}")
    else:
        started = time.perf_counter()
        make_world(root, clips, seed=seed, seconds=config.seconds, sample_rate=32000, val_fraction=val,
                   test_fraction=test, workers=config.workers)
        stamp_path.write_text(json.dumps(stamp))
        log(f"synthetic world {name}: {clips} clips in {time.perf_counter() - started:.0f} s")
    return json.loads(meta_path.read_text())


def _pretrained_backbone(config: ProofConfig, pre_world: Path, pre_meta: dict, path: Path, log) -> dict:
    """Fit the codec and pretrain the LM on ``pre_world``'s captioned music, save the backbone to
    ``path``; or reuse ``path`` when WORK/backbone.json says it was made with the same settings from
    the same world (a rerun then costs the encoders and the evaluation only). Returns the LM's
    pretraining loss {"first", "last", "reused", "codec"} (means of the first and last 20 steps;
    the kept codec's :func:`codec_usage`, how many fits it took, whether it collapsed anyway)."""
    stamp = {"spec": asdict(config.spec), "codec": asdict(config.codec), "pretrain": asdict(config.pretrain),
             "world": json.loads((config.work / "pretrain-world.json").read_text())}
    stamp_path = config.work / "backbone.json"
    if path.exists() and stamp_path.exists():
        saved = json.loads(stamp_path.read_text())
        if saved.get("stamp") == json.loads(json.dumps(stamp)):
            log(f"reusing the pretrained backbone {path} (delete it to pretrain again)")
            return {**saved["pretrain_loss"], "reused": True}
    from motionscore.server.generation.backbones.musicgen import MusicGenBackbone

    music = load_split(pre_world, "train") + load_split(pre_world, "val")
    wavs, best = None, None
    for attempt in range(CODEC_ATTEMPTS):
        candidate = MusicGenBackbone.from_musicgen(config.spec.build(), model_id=str(path))
        wavs = wavs or [_audio(audio, candidate.mg.sample_rate) for _, _, audio in music]
        fit_codec(candidate, wavs, replace(config.codec, seed=config.codec.seed + CODEC_RETRY_SEED * attempt), log)
        usage = {**codec_usage(candidate, wavs[:CODEC_USAGE_CLIPS]), "fits": attempt + 1}
        log(f"codec uses {usage['codes_used']} codes, perplexity {usage['perplexity']:.2f}")
        if best is None or usage["perplexity"] > best[1]["perplexity"]:
            best = (candidate, usage)
        if usage["perplexity"] >= MIN_CODEC_PERPLEXITY:
            break
        if attempt + 1 < CODEC_ATTEMPTS:
            log(f"the codec's quantiser collapsed (perplexity below {MIN_CODEC_PERPLEXITY:g}): fitting it again "
                f"from its initial weights with other batches (fit {attempt + 2} of {CODEC_ATTEMPTS})")
        else:
            log(f"WARNING: the codec collapsed in all {CODEC_ATTEMPTS} fits; keeping the least collapsed one "
                f"(perplexity {best[1]['perplexity']:.2f}): this seed's numbers will not mean much")
    backbone, usage = best
    usage = {**usage, "kept_fit": usage["fits"], "fits": attempt + 1,
             "collapsed": usage["perplexity"] < MIN_CODEC_PERPLEXITY}
    codes = [target_of(backbone, audio) for _, _, audio in music]
    losses = pretrain_lm(backbone, codes, [m.genre for _, m, _ in music], [pre_meta[n]["bpm"] for n, _, _ in music],
                         [pre_meta[n]["first_accent_s"] for n, _, _ in music], config.pretrain, log)
    stamp_path.unlink(missing_ok=True)  # never a stamp that vouches for a half-written backbone
    save_pretrained(backbone, config.spec, path)
    pretrain_loss = {"first": round(float(np.mean(losses[:20])), 3), "last": round(float(np.mean(losses[-20:])), 3)}
    pretrain_loss["codec"] = usage
    stamp_path.write_text(json.dumps({"stamp": stamp, "pretrain_loss": pretrain_loss}))
    return {**pretrain_loss, "reused": False}


def _time_shuffled(rhythm: Rhythm, rng: np.random.Generator) -> Rhythm:
    return replace(rhythm, binary=rng.permutation(rhythm.binary))


def _f1s(backbone, clips, rhythms, log, label: str, config: ProofConfig, plan_texts=None) -> list[dict]:
    """Generate for each held-out clip (batches of 8) and score against its own kinematic beats."""
    rows = []
    for start in range(0, len(clips), 8):
        chunk = clips[start:start + 8]
        requests = [GenerationRequest(rhythm=rhythms[start + i], duration=m.duration, sample_rate=32000,
                                      genre=m.genre, seed=config.seed, guidance=config.guidance)
                    for i, (_, m, _) in enumerate(chunk)]
        if plan_texts is None:
            generations = backbone.generate_batch(requests)
        else:
            generations = backbone.generate_plan(InjectionPlan(plan_texts[start:start + 8]), requests)
        for (name, motion, _), gen in zip(chunk, generations):
            rows.append(_scores(name, motion, gen.audio, gen.sample_rate, config))
    log(f"{label}: F1 {np.mean([r['f1'] for r in rows]):.3f} (F1@70ms {np.mean([r['f1_70ms'] for r in rows]):.3f}, "
        f"tempo within 5 % {np.mean([r['tempo_ok'] for r in rows]):.2f}) over {len(rows)} held-out clips")
    return rows


def _scores(name: str, motion, audio: np.ndarray, sample_rate: int, config: ProofConfig) -> dict:
    """Beat F1 at the configured tolerance and at 70 ms, alignment, and tempo agreement of one take."""
    kin = extract_rhythm(motion).following_kinematic_beats()  # the world's music is on these beats
    take = score_take(kin.beat_times, kin.tempo_bpm, audio, sample_rate, config.tolerance)
    tight = beat_scores(np.asarray(take.music_beats_s), kin.beat_times, TIGHT_TOLERANCE)
    tempo_ok = bool(take.music_tempo_bpm and kin.tempo_bpm and
                    abs(take.music_tempo_bpm - kin.tempo_bpm) <= 0.05 * kin.tempo_bpm)
    return {"clip": name, "f1": take.f1, "f1_70ms": tight.f1, "alignment": take.alignment, "tempo_ok": tempo_ok,
            "music_tempo": take.music_tempo_bpm, "motion_tempo": kin.tempo_bpm}


def run_proof(config: ProofConfig, log=print) -> dict:
    """Run the proof for ``config.seed``: the seed draws the worlds, the backbone's initial weights,
    the codec's and the LM's batches, and the encoders' (each seed a new experiment)."""
    started = time.perf_counter()
    config = replace(config, spec=replace(config.spec, seed=config.seed), codec=replace(config.codec, seed=config.seed),
                     pretrain=replace(config.pretrain, seed=config.seed))
    config.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    # Two disjoint worlds: the backbone's pretraining music, and the paired data the encoders are
    # trained and tested on. A backbone that has memorised the encoders' training clips lets the
    # encoders lower the loss by recognising clips instead of conveying their rhythm (measured with
    # one shared world: training loss 0.62, validation loss flat at 0.81, no gain over shuffled).
    pre_meta = _world(config, "pretrain-world", config.pretrain_clips, PRETRAIN_WORLD_SEED + config.seed, 0.0, 0.0,
                      log)
    meta = _world(config, "world", config.clips, config.seed, config.val_fraction, config.test_fraction, log)
    pre_world, world = config.work / "pretrain-world", config.work / "world"
    timings = {"world_s": round(time.perf_counter() - started, 1)}

    # 1. pretrain the backbone on captioned training music
    t0 = time.perf_counter()
    backbone_path = config.work / "backbone.safetensors"
    pretrain_loss = _pretrained_backbone(config, pre_world, pre_meta, backbone_path, log)
    timings["pretrain_s"] = round(time.perf_counter() - t0, 1)

    # 2. train the encoders against the frozen backbone, through the product's training loop
    t0 = time.perf_counter()
    backbone = load_pretrained(backbone_path)
    backbone.decoder = config.decoder
    encoders_path = config.work / "encoders.safetensors"
    summary = train(TrainConfig(backbone="musicgen", model=str(backbone_path), data=world, out=encoders_path,
                                projector=config.projector, steps=config.encoder_steps,
                                batch_size=config.encoder_batch, lr=config.encoder_lr, seed=config.seed,
                                save_every=config.encoder_steps, val_every=max(config.encoder_steps // 4, 1),
                                periodicity_lags=config.periodicity_lags),
                    log=lambda line: _log_sparse(line, log),
                    backbone=backbone)
    timings["encoders_s"] = round(time.perf_counter() - t0, 1)

    # 3. generate for held-out motions and score
    t0 = time.perf_counter()
    test = load_split(world, "test")
    rng = np.random.default_rng(config.seed)
    own = [extract_rhythm(m) for _, m, _ in test]
    derangement = np.roll(np.arange(len(test)), 1 + int(rng.integers(max(len(test) - 1, 1))))
    results = {}
    backbone.load_encoders(str(encoders_path))
    results["trained"] = _f1s(backbone, test, own, log, "trained", config)
    results["shuffled"] = _f1s(backbone, test, [own[j] for j in derangement], log, "shuffled", config)
    results["time-shuffled"] = _f1s(backbone, test, [_time_shuffled(r, rng) for r in own], log, "time-shuffled",
                                    config)
    torch.manual_seed(config.seed)
    backbone.encoders = Encoders(replace(backbone.encoders.config)).eval()
    results["untrained"] = _f1s(backbone, test, own, log, "untrained", config)
    backbone.encoders = None
    captions = [caption(m.genre, meta[n]["bpm"], meta[n]["first_accent_s"], 2) for n, m, _ in test]
    results["caption"] = _f1s(backbone, test, own, log, "caption (tempo in words)", config, plan_texts=captions)
    codec = backbone.mg.compression_model
    results["world music"], results["codec round trip"] = [], []
    for name, motion, path in test:
        audio = _audio(path, 32000)
        with torch.no_grad():
            decoded = codec.decode(codec.encode(torch.from_numpy(audio)[None, None])[0])[0, 0].numpy()
        results["world music"].append(_scores(name, motion, audio, 32000, config))
        results["codec round trip"].append(_scores(name, motion, decoded, 32000, config))
    timings["evaluation_s"] = round(time.perf_counter() - t0, 1)
    timings["total_s"] = round(time.perf_counter() - started, 1)

    table = {metric: {k: round(float(np.mean([float(r[metric] or 0.0) for r in results[k]])), 3) for k in CONDITIONS}
             for metric in METRICS}
    return {**table, "held_out_clips": len(test), "pretrain_clips": len(pre_meta),
            "train_clips": sum(entry["split"] == "train" for entry in meta.values()),
            "pretrain_loss": pretrain_loss,
            "paired": paired_table(results, config.seed), "encoder_training": summary, "timings_s": timings,
            "config": json.loads(json.dumps(asdict(config), default=str)), "per_clip": results}


#: The baselines the trained encoders are compared with clip by clip.
BASELINES = ("untrained", "shuffled", "time-shuffled")


def paired_table(per_clip: dict, seed: int = 0) -> dict:
    """{metric: {baseline: paired_comparison}} for the trained encoders against each baseline."""
    return {metric: {name: paired_comparison([float(r[metric] or 0.0) for r in per_clip["trained"]],
                                             [float(r[metric] or 0.0) for r in per_clip[name]], seed)
                     for name in BASELINES}
            for metric in METRICS}


def _log_sparse(line: str, log) -> None:
    """Pass on training lines every 50 steps (the loop logs every step)."""
    if not line.startswith("step ") or line.split()[1].split("/")[0].endswith("50") or \
            line.split()[1].split("/")[0].endswith("00"):
        log(line)


#: The packages whose versions decide the proof's numbers; recorded in every report.
VERSIONED_PACKAGES = ("torch", "numpy", "scipy", "librosa", "numba", "transformers", "diffusers", "audiocraft",
                      "soundfile", "safetensors")


def environment(threads: int) -> dict:
    """What a rerun must match to give the same numbers: Python, the packages above, torch's CPU
    thread count, and the lock file the environment was installed from (its SHA-256)."""
    import hashlib
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    lock = Path(__file__).resolve().parents[2] / "requirements" / "lock-dev.txt"
    return {"python": platform.python_version(), "machine": platform.machine(), "threads": threads,
            "packages": versions,
            "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else None}


#: The tempo claim each seed must meet: trained encoders keep the music's tempo within 5 % at least
#: twice as often as another clip's rhythm, and in at least 35 % of the held-out clips.
TEMPO_CLAIM = {"over_shuffled": 2.0, "at_least": 0.35}


def tempo_claim_holds(report: dict) -> bool:
    tempo = report["tempo_ok"]
    return (tempo["trained"] >= TEMPO_CLAIM["at_least"]
            and tempo["trained"] >= TEMPO_CLAIM["over_shuffled"] * tempo["shuffled"])


def pool_seeds(reports: dict[int, dict]) -> dict:
    """Combine per-seed reports {seed: run_proof report}: per-condition means over all held-out
    clips of all seeds, paired statistics over the pooled clips (each seed's clips stay paired with
    themselves), and which effects hold in *every* seed (the lower end of the 95 % interval above
    zero in each), which in some, and whether the tempo claim holds in each seed."""
    seeds = sorted(reports)
    pooled = {name: [row for s in seeds for row in reports[s]["per_clip"][name]] for name in CONDITIONS}
    table = {metric: {k: round(float(np.mean([float(r[metric] or 0.0) for r in pooled[k]])), 3) for k in CONDITIONS}
             for metric in METRICS}
    robust, fragile = [], []
    for metric in METRICS:
        for name in BASELINES:
            wins = [s for s in seeds if reports[s]["paired"][metric][name]["ci95"][0] > 0.0]
            entry = {"metric": metric, "baseline": name, "seeds": wins}
            (robust if len(wins) == len(seeds) else fragile).append(entry)
    return {**table, "seeds": seeds, "held_out_clips": len(pooled["trained"]),
            "paired": paired_table(pooled, 0), "robust": robust, "not_robust": fragile,
            "tempo_claim": {str(s): tempo_claim_holds(reports[s]) for s in seeds}}
