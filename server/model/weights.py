"""Backbone weights in the Hugging Face cache: what each backbone needs, pulling it, listing it.

``motionscore models pull NAME`` downloads a backbone's model and everything it needs (MusicGen: its
weights and the ``t5-base`` text encoder) with huggingface_hub's own ``snapshot_download``: progress
bars, resumable ``.incomplete`` blobs, and nothing in the snapshot until a file is whole. Afterwards
``HfApi.verify_repo_checksums`` checks every pulled file against the hub's checksums (git blob SHA-1,
LFS SHA-256), and only then is the pull recorded as complete (:data:`MARKER`), which ``models list``
reads: a pull that stopped half-way never looks complete. Takes never download: the backbones load
with ``local_files_only`` / ``HF_HUB_OFFLINE`` and their errors name the pull command.

The hub address is ``$HF_ENDPOINT`` and the cache ``$HF_HUB_CACHE`` (else ``$HF_HOME/hub``), read at
call time, so tests point both at a hub on 127.0.0.1 and a temporary folder.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

#: Written into a repository's cache folder once its pulled files passed the checksum check.
MARKER = "motionscore-pull.json"
#: Room kept free beyond the files themselves (bytes): the cache's refs and the system's own needs.
DISK_MARGIN = 256 * 1024 * 1024


@dataclass(frozen=True)
class HubModel:
    """One hub repository and which of its files a backbone loads.

    ``layout``: "files" (exactly ``files``), "transformers" (config and tokenizer files, the
    safetensors weights, else the .bin ones) or "diffusers" (model_index.json and, per component
    folder, its configs and its safetensors weights, else .bin; no fp16 variants, no single-file
    checkpoints).
    """

    repo_id: str
    layout: str
    files: tuple[str, ...] = ()
    gated: bool = False


T5_BASE = HubModel("t5-base", "transformers")

#: Backbone -> (its default model, what else it loads). ``--model`` swaps the first for another hub id.
CATALOGUE: dict[str, tuple[HubModel, ...]] = {
    # audiocraft reads these two files of a MusicGen repository, and T5 from transformers.
    "musicgen": (HubModel("facebook/musicgen-small", "files", ("state_dict.bin", "compression_state_dict.bin")),
                 T5_BASE),
    "riffusion": (HubModel("riffusion/riffusion-model-v1", "diffusers"),),
    "audioldm": (HubModel("cvssp/audioldm-s-full-v2", "diffusers"),),
    "stableaudio": (HubModel("stabilityai/stable-audio-open-1.0", "diffusers", gated=True),),
}


class WeightsError(Exception):
    """A pull that could not be done; ``bad_input`` for the user's mistakes (exit 2), else exit 1.
    The message is one line."""

    def __init__(self, message: str, bad_input: bool = False):
        super().__init__(message)
        self.bad_input = bad_input


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    """The Hugging Face hub cache the backbones load from."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def pull_command(backbone: str, model: str | None = None) -> str:
    """The command that fetches ``backbone``'s weights (``model``: a hub id other than the default)."""
    default = CATALOGUE.get(backbone, (None,))[0]
    extra = f" --model {model}" if model and (default is None or model != default.repo_id) else ""
    return f"motionscore models pull {backbone}{extra}"


def models_for(backbone: str, model: str | None = None) -> tuple[HubModel, ...]:
    """What pulling ``backbone`` (with hub id ``model`` instead of its default) fetches."""
    if backbone not in CATALOGUE:
        raise WeightsError(f"unknown backbone {backbone!r}; backbones with weights: {', '.join(sorted(CATALOGUE))} "
                           f"(synth needs none)", bad_input=True)
    first, *rest = CATALOGUE[backbone]
    if model and model != first.repo_id:
        if Path(model).expanduser().exists():
            raise WeightsError(f"{model} is a local folder: nothing to pull, pass it to --model when serving",
                               bad_input=True)
        first = HubModel(model, first.layout, first.files, first.gated)
    return (first, *rest)


def _weights(paths: list[str], folder: str) -> list[str]:
    """The weight files of one folder: its safetensors (no fp16/variant copies), else its .bin."""
    here = [p for p in paths if str(PurePosixPath(p).parent) == folder]
    plain = [p for p in here if len(PurePosixPath(p).name.split(".")) == 2]  # "model.safetensors", not ".fp16."
    for suffix in (".safetensors", ".bin"):
        chosen = [p for p in plain if p.endswith(suffix)]
        if chosen:
            index = [p for p in here if p.endswith(suffix + ".index.json")]
            return chosen + index
    return []


def select_files(model: HubModel, paths: list[str]) -> list[str]:
    """The files of ``model``'s repository (``paths``: its whole listing) the backbone loads."""
    if model.layout == "files":
        return [p for p in model.files if p in paths]
    config = ("*.json", "*.txt", "*.model")
    if model.layout == "transformers":
        top = [p for p in paths if "/" not in p]
        return sorted({p for p in top if any(fnmatch.fnmatch(p, c) for c in config)} | set(_weights(top, ".")))
    chosen = {"model_index.json"} & set(paths)
    folders = sorted({str(PurePosixPath(p).parent) for p in paths if "/" in p and not p.startswith(".")})
    for folder in folders:
        inside = [p for p in paths if str(PurePosixPath(p).parent) == folder]
        chosen |= {p for p in inside if any(fnmatch.fnmatch(PurePosixPath(p).name, c) for c in config)}
        chosen |= set(_weights(paths, folder))
    return sorted(chosen)


def _repo_folder(repo_id: str) -> Path:
    return cache_dir() / ("models--" + repo_id.replace("/", "--"))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _explain(exc: BaseException, model: HubModel) -> WeightsError:
    """huggingface_hub's and the network's exceptions as one line that says what to do."""
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    endpoint = hub_endpoint()
    if isinstance(exc, GatedRepoError):
        return WeightsError(f"{model.repo_id} is gated: accept its licence at {endpoint}/{model.repo_id} and log in "
                            f"(`hf auth login`, or set HF_TOKEN), then pull again")
    if isinstance(exc, (RepositoryNotFoundError, RevisionNotFoundError)):
        return WeightsError(f"{model.repo_id}: no such model at {endpoint} (check the name; a private model needs "
                            f"HF_TOKEN)", bad_input=True)
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:  # ENOSPC
        return WeightsError(f"the disk is full while pulling {model.repo_id} into {cache_dir()}; free space and pull "
                            f"again (finished files are kept, the rest resumes)")
    if isinstance(exc, HfHubHTTPError):
        return WeightsError(f"{model.repo_id}: the hub answered {_one_line(exc)}")
    name = type(exc).__name__
    if "Protocol" in name or "ReadError" in name:
        return WeightsError(f"the connection to {endpoint} kept dropping while pulling {model.repo_id} ({name}, after "
                            f"huggingface_hub's retries): pull again; finished files are kept")
    if "Connect" in name or "Timeout" in name or "Network" in name or "Offline" in name:
        return WeightsError(f"cannot reach {endpoint} ({name}): check the network (or HF_ENDPOINT) and pull again; "
                            f"finished files are kept")
    return WeightsError(f"pulling {model.repo_id} failed: {name}: {_one_line(exc)}")


ProgressLine = Callable[[str, int, int], None]


def _progress_class(report: ProgressLine | None):
    """A tqdm class for snapshot_download: the usual bars, or ``report(stage, done, total)`` calls
    (bytes; at most every 0.2 s) for a caller that draws its own (the add-on)."""
    from tqdm.auto import tqdm

    if report is None:
        return None

    class Reporting(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115 - closed with the bar
            self._last = 0.0
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            out = super().update(n)
            now = time.monotonic()
            if self.unit == "B" and (now - self._last > 0.2 or (self.total and self.n >= self.total)):
                self._last = now
                report(str(self.desc or "downloading"), int(self.n), int(self.total or 0))
            return out

        def close(self):
            handle = self.fp
            super().close()
            handle.close()

    return Reporting


@dataclass
class Pulled:
    repo_id: str
    revision: str
    files: int
    bytes: int
    folder: Path


def pull_model(model: HubModel, report: ProgressLine | None = None, log=print) -> Pulled:
    """Download ``model``'s files into the cache, check them, and mark the pull complete."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=hub_endpoint())
    try:
        info = api.model_info(model.repo_id)
        listing = {f.path: f for f in api.list_repo_tree(model.repo_id, recursive=True, revision=info.sha)
                   if isinstance(f, RepoFile)}
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        raise _explain(exc, model) from None
    wanted = select_files(model, sorted(listing))
    if not wanted:
        raise WeightsError(f"{model.repo_id} has none of the files a {model.layout} model loads "
                           f"({', '.join(sorted(listing)[:5]) or 'an empty repository'})", bad_input=True)
    size = sum(listing[p].size for p in wanted)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    have = sum(f.stat().st_size for f in (_repo_folder(model.repo_id) / "blobs").glob("*")
               if f.is_file()) if (_repo_folder(model.repo_id) / "blobs").is_dir() else 0
    if size - have + DISK_MARGIN > free:
        raise WeightsError(f"{model.repo_id} needs {size_text(size - have)} more in {folder}, which has {size_text(free)} "
                           f"free: free some space (or set HF_HUB_CACHE to another disk) and pull again")
    log(f"pulling {model.repo_id} ({len(wanted)} files, {size_text(size)}) into {folder}")
    marker = _repo_folder(model.repo_id) / MARKER
    marker.unlink(missing_ok=True)  # whatever was there, it is complete again only once checked
    try:
        # At the default branch, so that the cache's refs/main points at the snapshot and an offline
        # load of the hub id finds it.
        snapshot = snapshot_download(model.repo_id, allow_patterns=wanted, cache_dir=str(folder),
                                     endpoint=hub_endpoint(), tqdm_class=_progress_class(report))
        revision = Path(snapshot).name
        check = api.verify_repo_checksums(model.repo_id, revision=revision, cache_dir=str(folder))
    except Exception as exc:  # noqa: BLE001
        raise _explain(exc, model) from None
    missing = sorted(set(wanted) & set(check.missing_paths))
    if check.mismatches or missing:
        bad = [m.path for m in check.mismatches] + missing
        raise WeightsError(f"{model.repo_id}: {len(bad)} file(s) did not check out ({', '.join(bad[:3])}); pull again")
    marker.write_text(json.dumps({"repo_id": model.repo_id, "revision": revision, "files": wanted, "bytes": size,
                                  "endpoint": hub_endpoint(), "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                         time.gmtime())}))
    return Pulled(model.repo_id, revision, len(wanted), size, _repo_folder(model.repo_id))


def pull(backbone: str, model: str | None = None, report: ProgressLine | None = None, log=print) -> list[Pulled]:
    """Everything ``backbone`` needs (``model``: another hub id for its main model)."""
    from huggingface_hub.utils import logging as hf_logging

    wanted = models_for(backbone, model)
    # A pull is the one place that goes online on purpose: lift the offline mode a backbone load in
    # this process (stay_offline) or the environment set, for the pull only.
    import huggingface_hub.constants as hub_constants

    offline_flag, offline_env = hub_constants.HF_HUB_OFFLINE, os.environ.pop("HF_HUB_OFFLINE", None)
    hub_constants.HF_HUB_OFFLINE = False
    # huggingface_hub warns with a URL and a second line at every retry of a dropped transfer; the
    # progress bar already shows it going on, and a failure ends in our one line.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return [pull_model(m, report, log) for m in wanted]
    finally:
        hf_logging.set_verbosity(level)
        hub_constants.HF_HUB_OFFLINE = offline_flag
        if offline_env is not None:
            os.environ["HF_HUB_OFFLINE"] = offline_env


@dataclass
class CachedModel:
    repo_id: str
    bytes: int
    complete: bool
    used_by: list[str]


def used_by(repo_id: str) -> list[str]:
    return sorted(b for b, models in CATALOGUE.items() if any(m.repo_id == repo_id for m in models))


def list_cached() -> list[CachedModel]:
    """The models in the cache (huggingface_hub's scan), with their size and the backbones using them."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        scanned = scan_cache_dir(cache_dir())
    except CacheNotFound:
        return []
    out = []
    for repo in sorted(scanned.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        out.append(CachedModel(repo.repo_id, int(repo.size_on_disk), (Path(repo.repo_path) / MARKER).is_file(),
                               used_by(repo.repo_id)))
    return out


def stay_offline() -> None:
    """Make every later hub lookup in this process local-only (takes never download; ``pull`` does).

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, at import: set both the variable (for what is
    imported later, and child processes) and the flag of an already imported hub library.
    """
    import sys

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def missing_weights_hint(backbone: str, model: str) -> str:
    """The sentence a backbone's load error ends with when its weights are not in the cache."""
    return f"Fetch it once with `{pull_command(backbone, model)}` (or pass a local folder to --model)."


def size_text(n: float) -> str:
    """Bytes as the largest unit under 1024 of it ("1.2 GB")."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"

