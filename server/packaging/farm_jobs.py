"""Farm job definitions (``motionscore farm openjd|flamenco``): one task per shot, on farm managers
studios already run, each task the existing headless entry against a motionscore server.

- **Open Job Description** (AWS Deadline Cloud, and locally ``openjd run``): a job bundle
  ``DIR/template.yaml`` (``jobtemplate-2023-09``). Job parameters ``ShotsFolder`` (PATH, so farm
  path mapping applies), ``ServerAddress``, optional ``ServerKey`` / ``ClientKey`` files and the
  ``Motionscore`` executable on the workers. OpenJD has no way to list a folder when a job
  starts, so the shots (every ``.blend`` and ``.bvh`` in the folder) are listed when the bundle is
  exported, as Deadline Cloud's own submitters do; export again after adding shots. Each task runs
  ``motionscore batch SHOT --server ADDR`` (a headless Blender process per shot).
- **Flamenco** (Blender Studio's farm manager): a job type file for the Manager's ``scripts/``
  folder, ``JOB_TYPE`` settings and ``compileJob`` (Flamenco's JavaScript author API), one
  ``blender-render`` command per shot that runs the installed add-on's ``batch_job`` in the
  worker's Blender.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from motionscore.shared.client import DEFAULT_ADDRESS

SHOT_SUFFIXES = (".blend", ".bvh")
#: The extension's module inside Blender when installed from the zip into the user repository.
ADDON_MODULE = "bl_ext.user_default.motionscore"


class FarmExportError(ValueError):
    """Bad input for an export (no shots, an output that exists): one line for the user."""


def list_shots(folder: Path) -> list[str]:
    """The shot files directly in ``folder`` (names, sorted): .blend and .bvh, no .blend1 backups."""
    if not folder.is_dir():
        raise FarmExportError(f"{folder}: no such folder")
    shots = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SHOT_SUFFIXES)
    if not shots:
        raise FarmExportError(f"{folder}: no .blend or .bvh shots in it")
    return shots


def _motionscore_executable() -> str:
    """This environment's ``motionscore`` script (the template's default for workers that share it)."""
    candidate = Path(sys.executable).with_name("motionscore")
    return str(candidate) if candidate.exists() else "motionscore"


def openjd_template(shots_folder: Path, shots: list[str], save: bool = False,
                    address: str = DEFAULT_ADDRESS, executable: str | None = None) -> dict:
    """The OpenJD job template (a dict, written as YAML): one task per shot name in ``shots``."""
    args = ["batch", "{{Param.ShotsFolder}}/{{Task.Param.Shot}}", "--server", "{{Param.ServerAddress}}"]
    if save:
        args.append("--save")
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": f"motionscore: score {len(shots)} shot{'s' if len(shots) != 1 else ''}",
        "description": "Music for each shot's animation from a motionscore server; takes land beside the "
                       "shots in motionscore/ folders (and, for BVH, a new .blend). Made by `motionscore farm openjd`.",
        "parameterDefinitions": [
            {"name": "ShotsFolder", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "INOUT",
             "default": str(shots_folder.resolve()),
             "description": "The folder of the shots listed in this template (.blend and .bvh)."},
            {"name": "ServerAddress", "type": "STRING", "default": address, "minLength": 1,
             "description": "The motionscore server the workers reach (serve it with --keys beyond loopback)."},
            {"name": "ServerKey", "type": "STRING", "default": "",
             "description": "CurveZMQ: the server's public key file on the workers (empty: loopback server)."},
            {"name": "ClientKey", "type": "STRING", "default": "",
             "description": "CurveZMQ: the workers' client key pair file (empty: loopback server)."},
            {"name": "Motionscore", "type": "STRING", "default": executable or _motionscore_executable(),
             "minLength": 1, "description": "The motionscore command on the workers."},
        ],
        "steps": [{
            "name": "Score",
            "parameterSpace": {"taskParameterDefinitions": [{"name": "Shot", "type": "STRING", "range": shots}]},
            "stepEnvironments": [{
                "name": "MotionscoreServer",
                "variables": {"MOTIONSCORE_SERVER_KEY": "{{Param.ServerKey}}",
                              "MOTIONSCORE_CLIENT_KEY": "{{Param.ClientKey}}"},
            }],
            "script": {"actions": {"onRun": {"command": "{{Param.Motionscore}}", "args": args}}},
        }],
    }


def write_openjd_bundle(out: Path, shots_folder: Path, save: bool = False, address: str = DEFAULT_ADDRESS,
                        executable: str | None = None, force: bool = False) -> tuple[Path, list[str]]:
    """Write ``out/template.yaml`` for the shots in ``shots_folder``; returns its path and the shots."""
    import yaml

    shots = list_shots(shots_folder)
    target = out / "template.yaml"
    _refuse_existing(target, force)
    out.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(openjd_template(shots_folder, shots, save, address, executable), sort_keys=False, width=100)
    _write_atomic(target, "# Open Job Description job bundle made by `motionscore farm openjd`.\n" + text)
    return target, shots


_FLAMENCO_JOB_TYPE = r"""// motionscore job type for Flamenco: music for each shot's animation from a motionscore server.
// Made by `motionscore farm flamenco`; put it in the Flamenco Manager's scripts/ folder and restart it.
// One task per shot, each a `blender-render` command running the installed motionscore add-on's
// headless batch job in the worker's Blender (install the extension on every worker).

const JOB_TYPE = {
    label: "motionscore: Score Shots",
    description: "Music whose beats follow each shot's animation, from a motionscore server",
    settings: [
        { key: "shots_folder", type: "string", subtype: "dir_path", required: true,
          description: "Folder of the shots" },
        { key: "shots", type: "string", required: true,
          description: "Shot files in that folder (.blend, .bvh), separated by ';'" },
        { key: "server_address", type: "string", default: __ADDRESS__, required: true,
          description: "The motionscore server the workers reach (serve it with --keys beyond loopback)" },
        { key: "server_key", type: "string", subtype: "file_path", default: "",
          description: "CurveZMQ: the server's public key file on the workers (empty: loopback server)" },
        { key: "client_key", type: "string", subtype: "file_path", default: "",
          description: "CurveZMQ: the workers' client key pair file (empty: loopback server)" },
        { key: "save_blends", type: "bool", default: false,
          description: "Save each .blend with its new sound strip (BVH shots always get a new .blend)" },
        { key: "addon_module", type: "string", default: __MODULE__, visible: "web",
          description: "The motionscore extension's module in the workers' Blender" },
    ],
};

const SHOT_PATTERN = /\.(blend|bvh)$/i;

function shotList(settings) {
    const shots = String(settings.shots || "").split(";").map((s) => s.trim()).filter((s) => s.length > 0);
    if (shots.length == 0) {
        throw "motionscore: no shots given (setting 'shots')";
    }
    for (const shot of shots) {
        if (!SHOT_PATTERN.test(shot)) {
            throw `motionscore: ${shot} is not a .blend or .bvh shot`;
        }
    }
    return shots;
}

function pythonCall(settings, shotPath) {
    const argv = [shotPath, "--server", settings.server_address];
    if (settings.server_key) { argv.push("--server-key", settings.server_key); }
    if (settings.client_key) { argv.push("--client-key", settings.client_key); }
    if (settings.save_blends) { argv.push("--save"); }
    return "import importlib, sys; sys.exit(importlib.import_module(" + JSON.stringify(settings.addon_module + ".batch_job")
        + ").main(" + JSON.stringify(argv) + "))";
}

function compileJob(job) {
    const settings = job.settings;
    for (const shot of shotList(settings)) {
        const shotPath = path.join(settings.shots_folder, shot);
        const task = author.Task(`score-${shot}`, "blender");
        const command = author.Command("blender-render", {
            exe: "{blender}",
            exeArgs: "{blenderArgs}",
            argsBefore: [],
            blendfile: "",
            args: ["--python-exit-code", "1", "--python-expr", pythonCall(settings, shotPath)],
        });
        task.addCommand(command);
        job.addTask(task);
    }
}
"""


def flamenco_job_type(address: str = DEFAULT_ADDRESS, module: str = ADDON_MODULE) -> str:
    """The Flamenco job type's JavaScript source."""
    return (_FLAMENCO_JOB_TYPE.replace("__ADDRESS__", json.dumps(address))
            .replace("__MODULE__", json.dumps(module)))


def write_flamenco_job_type(out: Path, address: str = DEFAULT_ADDRESS, module: str = ADDON_MODULE,
                            force: bool = False) -> Path:
    target = out / "motionscore_score_shots.js"
    _refuse_existing(target, force)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, flamenco_job_type(address, module))
    return target


def flamenco_shots_setting(folder: Path) -> str:
    """The ``shots`` setting for a folder's shots (what a submitter fills in)."""
    return ";".join(list_shots(folder))


def _refuse_existing(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise FarmExportError(f"{target} exists; pass --force to overwrite it")


def _write_atomic(target: Path, text: str) -> None:
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(target)


def openjd_run_command(bundle: Path, shots_folder: Path, address: str) -> str:
    """The local ``openjd run`` line for a bundle (printed after an export)."""
    return (f"openjd run {shlex.quote(str(bundle / 'template.yaml'))} -p ShotsFolder={shlex.quote(str(shots_folder))} "
            f"-p ServerAddress={shlex.quote(address)}")
