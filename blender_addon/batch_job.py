"""One headless batch job inside Blender: open a .blend (or import a .bvh), score it, optionally save.

Run by ``motionscore batch`` as ``python -m motionscore.blender_addon.batch_job FILE [--save]`` with
the bpy module (or through a ``blender -b`` binary with ``--python``). The server address comes from
``$MOTIONSCORE_SERVER``. Prints one line ``MOTIONSCORE_RESULT {json}`` on stdout; exit 0 on success.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

try:  # the add-on's own shared/ (the extension, or `python -m motionscore.blender_addon.batch_job`)
    from .shared.take_record import RESULT_TAG, TakeRecord
except ImportError:  # run as a script: blender -b --python batch_job.py
    from motionscore.shared.take_record import RESULT_TAG, TakeRecord


def _emit(result: dict) -> None:
    print(RESULT_TAG + json.dumps(result), flush=True)


def _unique_blend(path: Path) -> Path:
    candidate = path.with_suffix(".blend")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_motionscore{n:02d}.blend")
        n += 1
    return candidate


def _ensure_registered():
    import bpy

    if not hasattr(bpy.types, "MOTIONSCORE_OT_score_animation"):
        import importlib

        # This module's own package: ``motionscore.blender_addon`` with the bpy module, or the
        # installed extension (``bl_ext.user_default.motionscore``) inside a farm's Blender.
        package = __package__ or "motionscore.blender_addon"
        importlib.import_module(package).register()


def run(path: Path, save: bool) -> dict:
    import bpy

    if path.suffix.lower() == ".bvh":
        bpy.ops.wm.read_factory_settings(use_empty=True)  # (this also resets the preferences)
        bpy.context.preferences.filepaths.save_version = 0  # no .blend1 backups next to the user's files
        _ensure_registered()
        bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=True, update_scene_duration=True)
        target = _unique_blend(path)
        # Save first so the audio lands next to it in //motionscore (nothing of the user's is touched).
        bpy.ops.wm.save_as_mainfile(filepath=str(target))
    else:
        bpy.ops.wm.open_mainfile(filepath=str(path))
        bpy.context.preferences.filepaths.save_version = 0
        _ensure_registered()
        target = path
    scene = bpy.context.scene
    try:
        status = bpy.ops.motionscore.score_animation(mode="BLOCKING")
    except RuntimeError as exc:  # the operator's ERROR report
        message = str(exc).replace("Error: motionscore: ", "").strip()
        return {"file": str(path), "ok": False, "error": message}
    if status != {"FINISHED"}:
        return {"file": str(path), "ok": False, "error": scene.motionscore.last_error or "cancelled"}
    saved = None
    if save or path.suffix.lower() == ".bvh":
        bpy.ops.wm.save_as_mainfile(filepath=str(target))
        saved = str(target)
    take = TakeRecord.from_wire(json.loads(scene.motionscore.last_take_record))
    return {"file": str(path), "ok": True, "audio": scene.motionscore.last_file, "saved": saved,
            "alignment": take.alignment, "backbone": take.backbone, "map": take.map_summary,
            "frames": [scene.frame_start, scene.frame_end], "fps": scene.render.fps / scene.render.fps_base}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="motionscore-batch-job")
    parser.add_argument("file")
    parser.add_argument("--save", action="store_true")
    # Farm managers run Blender with a command line, not an environment: these set what the
    # add-on otherwise reads from $MOTIONSCORE_SERVER and the key variables ("" = not given).
    parser.add_argument("--server", default="")
    parser.add_argument("--server-key", default="")
    parser.add_argument("--client-key", default="")
    args = parser.parse_args(argv)
    for variable, value in (("MOTIONSCORE_SERVER", args.server), ("MOTIONSCORE_SERVER_KEY", args.server_key),
                            ("MOTIONSCORE_CLIENT_KEY", args.client_key)):
        if value:
            os.environ[variable] = value
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="motionscore-batch-"))
    try:
        result = run(Path(args.file).resolve(), args.save)
    except Exception as exc:  # a broken file must become a reported failure, not a traceback
        result = {"file": args.file, "ok": False, "error": f"{type(exc).__name__}: {str(exc).strip()}"}
    _emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
