"""Fetch an ML backbone's weights for a server on this machine, from the add-on's preferences.

It runs ``SERVER_PYTHON -m motionscore.server.cli models pull BACKBONE --progress json`` (the same
command as on a terminal, in the server's environment, which has huggingface_hub) and reads its
JSON progress lines from a reader thread; a main-thread timer copies them into the preferences,
where a progress bar shows them. Under ``blender -b`` (no timers) the operator waits instead.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

import bpy

from . import preferences as prefs
from .preferences import PULL_BACKBONE_ITEMS
from .redraw import tag_redraw

POLL_INTERVAL_S = 0.2


class PullJob:
    """One ``models pull`` process and what it said: plain data, no bpy (the reader is a thread)."""

    def __init__(self, python: str, backbone: str):
        self.backbone = backbone
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        self.proc = subprocess.Popen([python, "-m", "motionscore.server.cli", "models", "pull", backbone,
                                      "--progress", "json"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr.append), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, put) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def progress(self) -> tuple[float, str] | None:
        """The latest (fraction, stage) the process printed since the last call, or None."""
        latest = None
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return latest
            try:
                data = json.loads(line)
                total = max(int(data["total"]), 1)
                latest = (min(int(data["done"]) / total, 1.0),
                          f"{data['stage']}: {int(data['done']) / 2**20:.0f} of {total / 2**20:.0f} MB")
            except (ValueError, KeyError, TypeError):
                continue

    def finished(self) -> str | None:
        """None while running; "" when done; else the error line the command ended with."""
        if self.proc.poll() is None:
            return None
        for reader in self._readers:
            reader.join(5)
        if self.proc.returncode == 0:
            return ""
        errors = [line for line in self.stderr if line.startswith("motionscore:")]
        tail = errors[-1] if errors else (self.stderr[-1] if self.stderr else f"exit code {self.proc.returncode}")
        return tail.replace("motionscore: failed: ", "").replace("motionscore: error: ", "")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_job: PullJob | None = None


def _hub_is_local() -> bool:
    """Whether the hub (``$HF_ENDPOINT``) is on this machine: then no download goes online."""
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def _start(context, backbone: str) -> PullJob:
    if not bpy.app.online_access and not _hub_is_local():
        raise RuntimeError("Blender's online access is off (Preferences > System > Network > Allow Online Access); "
                           "turn it on to download, or run `motionscore models pull` in a terminal")
    p = prefs.preferences(context)
    python = bpy.path.abspath(p.server_python) if p is not None and p.server_python else ""
    if not python:
        raise RuntimeError("set Server Python (the Python of the environment where motionscore is installed) first")
    try:
        return PullJob(python, backbone)
    except OSError as exc:
        raise RuntimeError(f"cannot run {python}: {exc.strerror or exc}") from None


def _update(p, job: PullJob) -> bool:
    """Copy the job's progress into the preferences; True when it is over."""
    seen = job.progress()
    if seen is not None:
        p.pull_progress, p.pull_stage = seen
    outcome = job.finished()
    if outcome is None:
        return False
    p.pull_running = False
    p.pull_error = outcome
    p.pull_stage = f"{job.backbone}: ready (checked)" if outcome == "" else ""
    if outcome == "":
        p.pull_progress = 1.0
    return True


def _poll():
    global _job
    job = _job
    p = prefs.preferences()
    if job is None or p is None:
        return None
    if _update(p, job):
        _job = None
        _redraw()
        return None
    _redraw()
    return POLL_INTERVAL_S


def _redraw() -> None:
    tag_redraw("PREFERENCES")


class MOTIONSCORE_OT_pull_weights(bpy.types.Operator):
    """Download this backbone's model weights into the Hugging Face cache, for a server on this computer"""

    bl_idname = "motionscore.pull_weights"
    bl_label = "Download model weights"

    backbone: bpy.props.EnumProperty(name="Backbone", items=PULL_BACKBONE_ITEMS, default="musicgen")
    mode: bpy.props.EnumProperty(name="Mode", default="AUTO", options={"SKIP_SAVE"},
                                 items=[("AUTO", "Automatic", "Wait under blender -b, a timer in the UI"),
                                        ("BLOCKING", "Blocking", "Wait for the download"),
                                        ("ASYNC", "Asynchronous", "Return at once; a timer follows the download")])

    def execute(self, context):
        global _job
        p = prefs.preferences(context)
        if p is None:
            self.report({"ERROR"}, "motionscore: the add-on's preferences are not available")
            return {"CANCELLED"}
        if _job is not None:
            self.report({"ERROR"}, "motionscore: a download is already running (cancel it first)")
            return {"CANCELLED"}
        p.pull_error, p.pull_stage, p.pull_progress = "", "starting", 0.0
        try:
            job = _start(context, self.backbone)
        except RuntimeError as exc:
            p.pull_error, p.pull_stage = str(exc), ""
            self.report({"ERROR"}, f"motionscore: {exc}")
            return {"CANCELLED"}
        p.pull_running = True
        if self.mode == "BLOCKING" or (self.mode == "AUTO" and bpy.app.background):
            while not _update(p, job):
                threading.Event().wait(POLL_INTERVAL_S)
            if p.pull_error:
                self.report({"ERROR"}, f"motionscore: {p.pull_error}")
                if bpy.app.background:
                    print(f"motionscore: error: {p.pull_error}", file=sys.stderr)
                return {"CANCELLED"}
            self.report({"INFO"}, f"motionscore: {p.pull_stage}")
            return {"FINISHED"}
        _job = job
        bpy.app.timers.register(_poll, first_interval=POLL_INTERVAL_S)
        return {"FINISHED"}


class MOTIONSCORE_OT_cancel_pull(bpy.types.Operator):
    """Stop the download (finished files stay in the cache; the next download fetches the rest)"""

    bl_idname = "motionscore.cancel_pull"
    bl_label = "Cancel download"

    def execute(self, context):
        global _job
        job, _job = _job, None
        p = prefs.preferences(context)
        if job is None:
            return {"CANCELLED"}
        job.stop()
        if p is not None:
            p.pull_running, p.pull_stage, p.pull_error = False, "", "download cancelled"
        return {"FINISHED"}


poll_pull = _poll


def shutdown() -> None:
    """Stop a download in flight (on unregister)."""
    global _job
    if bpy.app.timers.is_registered(_poll):
        bpy.app.timers.unregister(_poll)
    if _job is not None:
        _job.stop()
        _job = None


CLASSES = (MOTIONSCORE_OT_pull_weights, MOTIONSCORE_OT_cancel_pull)
