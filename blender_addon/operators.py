"""The operators: Score this animation and Fit a song... (non-blocking in the UI, blocking in
background mode) and Cancel.

Two engines make the takes behind one set of verbs (submit / poll / cancel / score / close): a
motionscore server (:class:`~.shared.client.ScoreClient`) or the built-in engine
(:class:`~.shared.builtin.BuiltinEngine`, the synth in a worker thread, numpy only). Automatic
uses the server when one answers and the built-in engine otherwise.

The main thread owns all Blender state; jobs are polled from a main-thread timer in the UI
(``bpy.app.timers``) and waited on directly under ``blender -b`` (where timers never run).
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import bpy

from . import preferences as prefs
from .markers import place_map_markers, user_hits
from .redraw import tag_redraw
from .sampling import SamplingError, sample_scene, scene_fps
from .sequencer import SequencerError, place_take
from .tempo_files import given_map_options
from .shared import limits
from .shared.builtin import BACKBONE as BUILTIN_BACKBONE
from .shared.builtin import ENGINE_ENV, BuiltinEngine, take_parts
from .shared.client import E_BAD_KEY, E_KEY_REFUSED, E_KEY_REQUIRED, ScoreClient, ServerError
from .shared.options import ConformOptions, OptionsError, ScoreOptions
from .shared.take_record import TakeRecord, TakeRecordError
from .shared.tempo_map import ALTERNATIVES, alternatives_text

POLL_INTERVAL_S = 0.1
#: Automatic waits this long for a server to answer before making the take built-in (s).
PROBE_TIMEOUT_S = 0.5


@dataclass
class ActiveJob:
    """The one scoring request in flight in the UI (plain data + the engine; no bpy objects)."""

    client: ScoreClient | BuiltinEngine
    scene_name: str
    job_ids: list[str]
    #: The options each job was sent with, in job order.
    options: list[ScoreOptions]
    sampled: object  # the SampledScene the jobs score (its motion and frame range)


_active: ActiveJob | None = None
#: How an operator waits for its take.
MODE_ITEMS = [("AUTO", "Automatic", "Wait in background mode (blender -b), poll from a timer in the UI"),
              ("BLOCKING", "Blocking", "Wait for the music before returning"),
              ("ASYNC", "Asynchronous", "Return at once; a main-thread timer polls the server")]
#: The server this add-on started (auto-start), if any; it outlives Blender on purpose.
started_server: subprocess.Popen | None = None


def _options(settings, seed: int, hits=(), given: dict | None = None) -> ScoreOptions:
    """The request's options; ``given``: a loaded tempo map's options (:func:`tempo_files.given_map_options`)."""
    given = given or {}
    return ScoreOptions(genre=None if settings.genre == "AUTO" else settings.genre, prompt=settings.prompt,
                        seed=seed, backbone=settings.backbone or None,
                        beat_lock={"AUTO": None, "ON": True, "OFF": False}[settings.beat_lock],
                        hits=tuple(sorted(set(hits) | set(given.get("hits", ())))),
                        tempo_bpm=None if given else (settings.tempo or None),
                        meter=given.get("meter") or (None if settings.meter == "AUTO" else int(settings.meter)),
                        map_beats=given.get("map_beats", ()), map_downbeats=given.get("map_downbeats", ()))


def _keys(context) -> dict:
    server_key, client_key = prefs.key_files(context)
    return {"server_key": server_key, "client_key": client_key}


def _server_answers(context, address: str, timeout: float) -> bool:
    """Whether a server answers ``hello`` at ``address``. Key errors raise: a keyed server is there,
    and neither another server nor the built-in engine is what the user asked for."""
    try:
        with ScoreClient(address, timeout=timeout, **_keys(context)) as client:
            client.hello()
        return True
    except ImportError:  # no pyzmq for this Blender's Python: no server can be reached
        return False
    except ServerError as exc:
        if exc.code in (E_KEY_REQUIRED, E_KEY_REFUSED, E_BAD_KEY):
            raise
        return False


def _maybe_start_server(context, address: str) -> str | None:
    """Start `motionscore serve` if preferences ask for it and nothing answers. Returns a note."""
    p = prefs.preferences(context)
    if p is None or not p.auto_start:
        return None
    if _server_answers(context, address, 1.0):
        return None
    python = bpy.path.abspath(p.server_python) if p.server_python else ""
    if not python:
        raise ServerError("unreachable", "auto-start is on but no server Python is set in the preferences")
    global started_server
    try:
        started_server = subprocess.Popen([python, "-m", "motionscore.server.cli", "serve", "--bind", address],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError as exc:
        raise ServerError("unreachable", f"cannot start the server with {python}: {exc.strerror or exc}") from None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _server_answers(context, address, 1.0):
            return f"started a local server at {address}"
        time.sleep(0.5)
    raise ServerError("unreachable", f"started {python} -m motionscore.server.cli serve, but it did not answer in 60 s")


def engine_choice(settings) -> str:
    """AUTO, BUILTIN or SERVER: ``$MOTIONSCORE_ENGINE`` if set, else the panel's Engine."""
    value = os.environ.get(ENGINE_ENV, "").strip().upper().replace("-", "")
    if value:
        if value not in ("AUTO", "BUILTIN", "SERVER"):
            raise ServerError("bad_options", f"${ENGINE_ENV} must be auto, built-in or server, got "
                                             f"{os.environ[ENGINE_ENV]!r}")
        return value
    return settings.engine


def open_engine(context, settings) -> tuple[ScoreClient | BuiltinEngine, str | None]:
    """The engine for this request and a note for the user (or None). Raises ServerError with a
    one-line message: a Server engine that does not answer, an ML backbone with no server."""
    choice = engine_choice(settings)
    if choice == "BUILTIN":
        return BuiltinEngine(), None
    address = prefs.server_address(context)
    note = _maybe_start_server(context, address)
    if choice == "AUTO" and not note and not _server_answers(context, address, PROBE_TIMEOUT_S):
        backbone = settings.backbone.strip()
        if backbone and backbone != BUILTIN_BACKBONE:
            raise ServerError("unreachable", f"backbone {backbone} needs a motionscore server and none answered at "
                                             f"{address}; start one (motionscore serve --backbone {backbone}), "
                                             f"or clear Backbone for the built-in synth")
        return BuiltinEngine(), f"no server answered at {address}: made with the built-in engine"
    return ScoreClient(address, timeout=prefs.request_timeout(context), **_keys(context)), note


def _settings_record(take: TakeRecord, options: ScoreOptions) -> dict:
    """What the take's strip records of it (custom properties): enough to make it again."""
    return {"prompt": options.prompt, "seed": options.seed, "genre": take.genre or "",
            "backbone": take.backbone, "model_id": take.model_id,
            "engine": "built-in" if take.built_in else "server",
            "alignment": take.alignment if take.alignment is not None else -1.0,  # -1: not measured
            "f1": take.metrics.f1 if take.metrics is not None else None, "sample_rate": take.sample_rate}


def _take_record(result) -> TakeRecord:
    try:
        return TakeRecord.from_wire(result.metadata)
    except TakeRecordError as exc:
        raise SequencerError(f"{exc}: the server speaks another version; update the add-on or the server") from None


def _take_stems(settings, result, take: TakeRecord, options: ScoreOptions, motion, report) -> dict | None:
    """The take's parts when the panel asks for Stems, else None (with a warning when it has none)."""
    if not settings.stems:
        return None
    parts = take_parts(result, options, motion)
    if parts is None:
        why = ("only synth takes have parts" if take.backbone != BUILTIN_BACKBONE
               else "this synth does not reproduce the take (the server runs another version)")
        report({"WARNING"}, f"motionscore: no stems: {why}; placed the mixed take")
        return None
    return parts.stems


def _place_results(scene, job_results: list, sampled, report) -> None:
    """Place each (result, the options it was made with) as a take over the sampled frame range."""
    settings = scene.motionscore
    frame_start, frame_end = sampled.frame_start, sampled.frame_end
    takes = [_take_record(result) for result, _ in job_results]
    for (result, options), take in zip(job_results, takes):
        stems = _take_stems(settings, result, take, options, sampled.motion, report)
        strip, path, warning = place_take(scene, result.audio, result.sample_rate, frame_start, frame_end,
                                          _settings_record(take, options), stems)
        if warning:
            report({"WARNING"}, warning)
        alignment = take.alignment
        settings.last_alignment = -1.0 if alignment is None else float(alignment)
        settings.last_file = str(path)
        settings.last_take_record = json.dumps(take.to_wire())
        text = "n/a" if alignment is None else f"{alignment:.2f}"
        engine = " (built-in engine)" if take.built_in else ""
        parts = f" as {len(stems)} stems" if stems else ""
        report({"INFO"}, f"motionscore: take '{strip.name}'{parts} on channel {strip.channel}, "
                         f"alignment {text}{engine}")
    if takes:
        # The bars of the last take; the user's own markers stay as they are.
        tempo_map = takes[-1].tempo_map or {}
        written = place_map_markers(scene, tempo_map, frame_start, scene_fps(scene), settings.beat_markers)
        settings.last_map = tempo_map.get("summary", "")
        settings.last_tempo = float(tempo_map.get("tempo_bpm") or 0.0)
        settings.last_map_record = json.dumps({**tempo_map, "frame_start": frame_start,
                                               "duration_s": takes[-1].duration_s})
        alternatives = [float(b) for b in tempo_map.get("alternatives_bpm", [])][:ALTERNATIVES]
        settings.last_alternatives = alternatives + [0.0] * (ALTERNATIVES - len(alternatives))
        if tempo_map:
            also = f"; also fits {alternatives_text(alternatives)}" if alternatives else ""
            report({"INFO"}, f"motionscore: {tempo_map.get('summary', '')}{also}; {written} timeline markers")
        if tempo_map.get("genre_note"):
            # The map's tempo does not suit the genre the user named (scoring.finish says when).
            report({"WARNING"}, f"motionscore: {tempo_map['genre_note']}; set Tempo to choose another")


class MOTIONSCORE_OT_score_animation(bpy.types.Operator):
    """Make music that follows this animation and add it to the Video Sequencer"""

    bl_idname = "motionscore.score_animation"
    bl_label = "Score this animation"
    bl_options = {"REGISTER"}

    mode: bpy.props.EnumProperty(name="Mode", default="AUTO", options={"SKIP_SAVE"}, items=MODE_ITEMS)

    def _fail(self, context, message: str):
        context.scene.motionscore.last_error = message
        context.scene.motionscore.running = False
        self.report({"ERROR"}, f"motionscore: {message}")
        if bpy.app.background:
            print(f"motionscore: error: {message}", file=sys.stderr)
        return {"CANCELLED"}

    def execute(self, context):
        settings = context.scene.motionscore
        if _active is not None:
            return self._fail(context, "a scoring request is already running (cancel it first)")
        settings.last_error = ""
        try:
            sampled = sample_scene(context, settings.bone_preset, settings.bone_mapping)
            seeds = [settings.seed + k for k in range(settings.variations)]
            hits = user_hits(context.scene, sampled.frame_start, sampled.frame_end, sampled.motion.fps)
            given = given_map_options(settings, sampled.motion.duration)
            options = [_options(settings, seed, hits, given) for seed in seeds]
        except (SamplingError, OptionsError, ValueError) as exc:
            return self._fail(context, str(exc))
        for warning in sampled.warnings:
            self.report({"WARNING"}, f"motionscore: {warning}")
            if bpy.app.background:  # farm logs read stderr
                print(f"motionscore: warning: {warning}", file=sys.stderr)
        try:
            client, note = open_engine(context, settings)
        except ServerError as exc:
            return self._fail(context, exc.message)
        if note:
            self.report({"INFO"}, f"motionscore: {note}")
            if bpy.app.background:
                print(f"motionscore: {note}", file=sys.stderr)
        if self.mode == "BLOCKING" or (self.mode == "AUTO" and bpy.app.background):
            return _run_blocking(self, context, client, sampled, [
                (lambda c, o=o: c.score(sampled.motion, o, on_progress=_print_progress), o) for o in options])
        _start_polling(context, client, [client.submit(sampled.motion, o) for o in options], options, sampled)
        return {"FINISHED"}



def _run_blocking(operator, context, client, sampled, requests) -> set:
    """Make each take of ``requests`` ((make(client) -> result, its options)) and wait for it, then
    place them all; any failure is the operator's one-line error."""
    results = []
    try:
        for make, options in requests:
            results.append((make(client), options))
    except ServerError as exc:
        return operator._fail(context, exc.message)
    finally:
        client.close()
    try:
        _place_results(context.scene, results, sampled, operator.report)
    except SequencerError as exc:
        return operator._fail(context, str(exc))
    return {"FINISHED"}


def _start_polling(context, client, job_ids: list[str], options: list[ScoreOptions], sampled) -> None:
    """Hold the submitted jobs as the active request and poll them from a main-thread timer."""
    global _active
    _active = ActiveJob(client, context.scene.name, job_ids, list(options), sampled)
    settings = context.scene.motionscore
    settings.running, settings.progress, settings.stage = True, 0.0, "sending"
    # Timers never run under `blender -b`; there, whoever asked for ASYNC calls poll_active().
    bpy.app.timers.register(_poll_active, first_interval=POLL_INTERVAL_S)


def open_server(context, settings) -> tuple[ScoreClient, str | None]:
    """The server a song is fitted on (the time-stretcher and the beat tracker are not in Blender).
    Raises ServerError with a one-line message when none answers or Built-in is chosen."""
    address = prefs.server_address(context)
    needs = ("Fit a song runs on the motionscore server (its time-stretcher and beat tracker are not part of "
             "Blender)")
    if engine_choice(settings) == "BUILTIN":
        raise ServerError("unreachable", f"{needs}; set Engine to Automatic or Server and start one "
                                         f"(motionscore serve)")
    note = _maybe_start_server(context, address)
    if not note and not _server_answers(context, address, PROBE_TIMEOUT_S):
        raise ServerError("unreachable", f"{needs} and none answered at {address}; start one (motionscore serve)")
    return ScoreClient(address, timeout=prefs.request_timeout(context), **_keys(context)), note


def read_song_file(path: str) -> bytes:
    """The song file's bytes, checked for existence and size; OSError/ValueError with one line."""
    if not path or not os.path.isfile(path):
        raise ValueError(f"{path or 'no file'}: choose a song file (.wav, .flac, .ogg or .mp3)")
    size = os.path.getsize(path)
    if size > limits.MAX_SONG_BYTES:
        raise ValueError(f"{os.path.basename(path)}: {size / 2**20:.0f} MB is over the "
                         f"{limits.MAX_SONG_BYTES // 2**20} MB limit for a song; cut the part you need first")
    with open(path, "rb") as handle:
        return handle.read()


class MOTIONSCORE_OT_fit_song(bpy.types.Operator):
    """Fit a song of yours onto this animation's beats (pitch kept) and add it as a take"""

    bl_idname = "motionscore.fit_song"
    bl_label = "Fit a song..."
    bl_options = {"REGISTER"}

    filepath: bpy.props.StringProperty(name="Song", subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: bpy.props.StringProperty(default="*.wav;*.flac;*.ogg;*.mp3", options={"HIDDEN"})
    start: bpy.props.FloatProperty(name="Start (s)", default=-1.0, min=-1.0, soft_max=600.0,
                                   description="Start the song at its bar nearest this time (-1: its first bar)")
    loop: bpy.props.BoolProperty(name="Loop", default=False,
                                 description="Repeat the song by whole bars when it is shorter than the shot")
    stretch_any: bpy.props.BoolProperty(name="Any stretch", default=False,
                                        description="Allow playing the song beyond x0.75-x1.33 its speed")
    mode: bpy.props.EnumProperty(name="Mode", default="AUTO", options={"SKIP_SAVE"}, items=MODE_ITEMS)

    _fail = MOTIONSCORE_OT_score_animation._fail

    def invoke(self, context, event):  # noqa: ARG002 - Blender's signature
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        settings = context.scene.motionscore
        if _active is not None:
            return self._fail(context, "a scoring request is already running (cancel it first)")
        settings.last_error = ""
        path = bpy.path.abspath(self.filepath)
        try:
            song = read_song_file(path)
            sampled = sample_scene(context, settings.bone_preset, settings.bone_mapping)
            hits = user_hits(context.scene, sampled.frame_start, sampled.frame_end, sampled.motion.fps)
            options = _options(settings, settings.seed, hits, given_map_options(settings, sampled.motion.duration))
            conform = ConformOptions(start_s=self.start if self.start >= 0 else None, loop=self.loop,
                                     force=self.stretch_any)
        except (OSError, ValueError, SamplingError, OptionsError) as exc:
            return self._fail(context, str(exc))
        try:
            client, note = open_server(context, settings)
        except ServerError as exc:
            return self._fail(context, exc.message)
        if note:
            self.report({"INFO"}, f"motionscore: {note}")
        name = os.path.basename(path)
        if self.mode == "BLOCKING" or (self.mode == "AUTO" and bpy.app.background):
            return _run_blocking(self, context, client, sampled, [
                (lambda c: c.conform(sampled.motion, options, song, name, conform, on_progress=_print_progress),
                 options)])
        job = client.submit_conform(sampled.motion, options, song, name, conform)
        _start_polling(context, client, [job], [options], sampled)
        return {"FINISHED"}


def _print_progress(fraction: float, stage: str) -> None:
    print(f"motionscore: {fraction * 100:5.1f}% {stage}", file=sys.stderr)


def _finish(scene, error: str = "") -> None:
    global _active
    job, _active = _active, None
    if job is not None:
        job.client.close()
    if scene is not None:
        scene.motionscore.running = False
        scene.motionscore.stage = ""
        if error:
            scene.motionscore.last_error = error


def _poll_active():
    """Timer callback (main thread): read replies, update progress, place takes when all are done.

    Returns the delay until the next call, or None when the request is over."""
    job = _active
    if job is None:
        return None
    scene = bpy.data.scenes.get(job.scene_name)
    try:
        job.client.poll(0.0)
    except Exception as exc:  # never let a timer die silently
        _finish(scene, f"lost the server: {exc}")
        return None
    states = [job.client.jobs[j] for j in job.job_ids]
    if scene is None:
        for state in states:
            job.client.cancel(state.job_id)
        _finish(None)
        return None
    settings = scene.motionscore
    settings.progress = sum(s.fraction for s in states) / len(states)
    settings.stage = next((s.stage for s in states if not s.done), "placing the music")
    errors = [s.error for s in states if s.error is not None]
    if errors:
        for state in states:
            if not state.done:
                job.client.cancel(state.job_id)
        # The operator is gone when the timer runs: the panel shows last_error, the console the line.
        _finish(scene, errors[0].message)
        print(f"motionscore: error: {errors[0].message}", file=sys.stderr)
        _redraw()
        return None
    if all(s.done for s in states):
        results = [(s.result, options) for s, options in zip(states, job.options)]
        try:
            _place_results(scene, results, job.sampled, lambda level, text: print(text, file=sys.stderr))
            _finish(scene)
        except SequencerError as exc:
            _finish(scene, str(exc))
        _redraw()
        return None
    _redraw()
    return POLL_INTERVAL_S


def _redraw() -> None:
    tag_redraw("SEQUENCE_EDITOR", "VIEW_3D")


class MOTIONSCORE_OT_scale_tempo(bpy.types.Operator):
    """Double or halve the tempo the next take uses (starting from the last take's tempo)"""

    bl_idname = "motionscore.scale_tempo"
    bl_label = "Scale tempo"
    bl_options = {"REGISTER", "UNDO"}

    factor: bpy.props.FloatProperty(name="Factor", default=2.0, min=0.25, max=4.0)

    def execute(self, context):
        settings = context.scene.motionscore
        base = settings.tempo or settings.last_tempo
        if not base:
            self.report({"WARNING"}, "motionscore: no tempo yet: score once, or type a tempo")
            return {"CANCELLED"}
        settings.tempo = min(max(base * self.factor, limits.MIN_TEMPO_BPM), limits.MAX_TEMPO_BPM)
        return {"FINISHED"}


class MOTIONSCORE_OT_use_tempo(bpy.types.Operator):
    """Use this tempo for the next take (one the last take's motion also fits)"""

    bl_idname = "motionscore.use_tempo"
    bl_label = "Use tempo"
    bl_options = {"REGISTER", "UNDO"}

    bpm: bpy.props.FloatProperty(name="BPM", default=120.0, min=limits.MIN_TEMPO_BPM, max=limits.MAX_TEMPO_BPM)

    def execute(self, context):
        context.scene.motionscore.tempo = self.bpm
        return {"FINISHED"}


class MOTIONSCORE_OT_cancel(bpy.types.Operator):
    """Stop the running scoring request"""

    bl_idname = "motionscore.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        job = _active
        if job is None:
            self.report({"INFO"}, "motionscore: nothing is running")
            return {"CANCELLED"}
        for job_id in job.job_ids:
            job.client.cancel(job_id)
        _finish(bpy.data.scenes.get(job.scene_name), "cancelled")
        return {"FINISHED"}


poll_active = _poll_active


def shutdown() -> None:
    """Close the socket of a request in flight (called on unregister so Blender can exit)."""
    if bpy.app.timers.is_registered(_poll_active):
        bpy.app.timers.unregister(_poll_active)
    _finish(None)


CLASSES = (MOTIONSCORE_OT_score_animation, MOTIONSCORE_OT_fit_song, MOTIONSCORE_OT_scale_tempo,
           MOTIONSCORE_OT_use_tempo, MOTIONSCORE_OT_cancel)
