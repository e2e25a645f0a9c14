"""The wire protocol: versioned msgpack messages over ZeroMQ DEALER (client) / ROUTER (server).

Every message is one ZeroMQ frame holding a msgpack map with at least ``v`` (protocol version),
``type`` and, for anything tied to a request, ``id`` (a client-chosen string). Arrays travel as
maps ``{"dtype": "<f4", "shape": [...], "data": <bytes>}``. Decoding refuses oversized messages,
extension types and non-string map keys before anything else looks at them.
Full description for other clients: docs/protocol.md.
"""

from __future__ import annotations

import numpy as np

from . import limits
from .motion import Motion, MotionError
from .options import ConformOptions, OptionsError, ScoreOptions

PROTOCOL_VERSION = 1

# Message types
HELLO, INFO = "hello", "info"
PING, PONG = "ping", "pong"
SCORE, ACCEPTED, PROGRESS, RESULT = "score", "accepted", "progress", "result"
CANCEL, ERROR = "cancel", "error"
CONFORM = "conform"
CLIENT_TYPES = (HELLO, PING, SCORE, CONFORM, CANCEL)
SERVER_TYPES = (INFO, PONG, ACCEPTED, PROGRESS, RESULT, ERROR)

# Error codes (``error`` messages carry one of these plus a human message)
E_BAD_MESSAGE = "bad_message"          # not msgpack, not a map, missing/ill-typed fields
E_TOO_LARGE = "too_large"              # message over the size limit
E_UNSUPPORTED_VERSION = "unsupported_version"
E_UNKNOWN_TYPE = "unknown_type"
E_BAD_MOTION = "bad_motion"            # keypoints/fps/... invalid or over the limits
E_BAD_OPTIONS = "bad_options"          # an option with a bad value
E_BAD_SONG = "bad_song"                # conform: the song cannot be read, has no beat, or cannot fit
E_WRONG_BACKBONE = "wrong_backbone"    # request asks for a backbone this server does not run
E_DUPLICATE_ID = "duplicate_id"        # a job with this id is already pending for this client
E_UNKNOWN_JOB = "unknown_job"          # cancel for a job that is not pending
E_BUSY = "busy"                        # queue full, try again later
E_CANCELLED = "cancelled"              # the job was cancelled (by the client or a timeout)
E_INTERNAL = "internal"                # the server failed; the message says how
E_SHUTTING_DOWN = "shutting_down"
E_REPLICA_FAILED = "replica_failed"    # Ray engine: the job's replica was lost twice (or went silent)

MAX_ID_CHARS = 64
#: dtypes an array may have on the wire (little-endian, no objects).
WIRE_DTYPES = {"<f4": np.float32, "<f8": np.float64, "<i2": np.int16, "<i4": np.int32, "<i8": np.int64, "|u1": np.uint8}


class ProtocolError(Exception):
    """A message that cannot be accepted; ``code`` is one of the E_* codes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _msgpack():
    import msgpack  # bundled with the add-on; imported lazily so shared/ imports without it

    return msgpack


def _refuse_ext(code, data):  # noqa: ARG001 - msgpack's ext_hook signature
    raise ValueError("extension types are not allowed")


def encode(message: dict) -> bytes:
    """Serialise a message map (numpy arrays must already be wrapped with :func:`encode_array`)."""
    message = {"v": PROTOCOL_VERSION, **message}
    return _msgpack().packb(message, use_bin_type=True)


def decode(raw: bytes, max_bytes: int = limits.MAX_REQUEST_BYTES) -> dict:
    """Parse one message with size limits and no custom types.

    Raises:
        ProtocolError: E_TOO_LARGE, E_BAD_MESSAGE, E_UNSUPPORTED_VERSION.
    """
    if len(raw) > max_bytes:
        raise ProtocolError(E_TOO_LARGE, f"message of {len(raw)} bytes exceeds the limit of {max_bytes} bytes")
    msgpack = _msgpack()
    try:
        message = msgpack.unpackb(
            raw, raw=False, strict_map_key=True, ext_hook=_refuse_ext, use_list=True,
            max_bin_len=max_bytes, max_str_len=max_bytes, max_array_len=1_000_000,
            max_map_len=10_000, max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise ProtocolError(E_BAD_MESSAGE, f"not a msgpack message ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise ProtocolError(E_BAD_MESSAGE, "a message must be a msgpack map")
    version = message.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(E_UNSUPPORTED_VERSION,
                            f"protocol version {version!r} is not supported; this side speaks {PROTOCOL_VERSION}")
    if not isinstance(message.get("type"), str):
        raise ProtocolError(E_BAD_MESSAGE, "a message needs a string 'type'")
    if "id" in message and (not isinstance(message["id"], str) or not 0 < len(message["id"]) <= MAX_ID_CHARS):
        raise ProtocolError(E_BAD_MESSAGE, f"'id' must be a string of 1 to {MAX_ID_CHARS} characters")
    return message


def encode_array(array: np.ndarray) -> dict:
    """Wrap an array as {dtype, shape, data} (little-endian, C order)."""
    array = np.asarray(array)
    shape = list(array.shape)  # ascontiguousarray would turn a 0-d array into 1-d
    array = np.ascontiguousarray(array)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    array = array.astype(dtype, copy=False)
    if dtype.str not in WIRE_DTYPES:
        raise TypeError(f"dtype {array.dtype} cannot travel on the wire")
    return {"dtype": dtype.str, "shape": shape, "data": array.tobytes()}


def decode_array(obj, name: str, max_elements: int, code: str = E_BAD_MESSAGE) -> np.ndarray:
    """Unwrap {dtype, shape, data} into a read-only array, checking every field first."""
    if not isinstance(obj, dict) or set(obj) != {"dtype", "shape", "data"}:
        raise ProtocolError(code, f"{name} must be a map with exactly dtype, shape and data")
    dtype, shape, data = obj["dtype"], obj["shape"], obj["data"]
    if dtype not in WIRE_DTYPES:
        raise ProtocolError(code, f"{name}: dtype {dtype!r} not allowed (allowed: {', '.join(WIRE_DTYPES)})")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape) \
            or len(shape) > 4:
        raise ProtocolError(code, f"{name}: shape must be a list of at most 4 non-negative integers")
    count = int(np.prod(shape)) if shape else 1
    if count > max_elements:
        raise ProtocolError(code, f"{name}: {count} elements exceed the limit of {max_elements}")
    if not isinstance(data, bytes) or len(data) != count * np.dtype(dtype).itemsize:
        raise ProtocolError(code, f"{name}: data holds {len(data) if isinstance(data, bytes) else 'no'} bytes, "
                                  f"shape {shape} of {dtype} needs {count * np.dtype(dtype).itemsize}")
    return np.frombuffer(data, dtype=WIRE_DTYPES[dtype]).reshape(tuple(shape))


def motion_to_wire(motion: Motion) -> dict:
    wire = {"keypoints": encode_array(motion.keypoints), "fps": float(motion.fps)}
    if motion.confidence is not None:
        wire["confidence"] = encode_array(motion.confidence)
    if motion.joint_names is not None:
        wire["joint_names"] = list(motion.joint_names)
    if motion.frame_size is not None:
        wire["frame_size"] = list(motion.frame_size)
    if motion.genre is not None:
        wire["genre"] = motion.genre
    return wire


def motion_from_wire(obj) -> Motion:
    """Validate and build a Motion; every problem is a ProtocolError(E_BAD_MOTION)."""
    if not isinstance(obj, dict):
        raise ProtocolError(E_BAD_MOTION, "motion must be a map")
    unknown = set(obj) - {"keypoints", "fps", "confidence", "joint_names", "frame_size", "genre"}
    if unknown:
        raise ProtocolError(E_BAD_MOTION, f"unknown motion field(s): {', '.join(sorted(map(str, unknown)))}")
    if "keypoints" not in obj or "fps" not in obj:
        raise ProtocolError(E_BAD_MOTION, "motion needs keypoints and fps")
    max_elements = limits.MAX_JOINT_FRAMES * 2
    keypoints = decode_array(obj["keypoints"], "keypoints", max_elements, E_BAD_MOTION)
    confidence = None
    if obj.get("confidence") is not None:
        confidence = decode_array(obj["confidence"], "confidence", limits.MAX_JOINT_FRAMES, E_BAD_MOTION)
    fps = obj["fps"]
    if isinstance(fps, bool) or not isinstance(fps, (int, float)):
        raise ProtocolError(E_BAD_MOTION, f"fps must be a number, got {type(fps).__name__}")
    names = obj.get("joint_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) and len(n) <= 256 for n in names)):
        raise ProtocolError(E_BAD_MOTION, "joint_names must be a list of strings")
    try:
        return Motion(keypoints=keypoints, fps=fps, confidence=confidence,
                      joint_names=tuple(names) if names is not None else None,
                      frame_size=obj.get("frame_size"), genre=obj.get("genre"))
    except MotionError as exc:
        raise ProtocolError(E_BAD_MOTION, str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ProtocolError(E_BAD_MOTION, f"invalid motion: {exc}") from None


def options_from_wire(obj, kind=ScoreOptions):
    """``kind`` (ScoreOptions or ConformOptions) from its wire map; ProtocolError(E_BAD_OPTIONS) if not."""
    try:
        return kind.from_dict(obj if obj is not None else {})
    except OptionsError as exc:
        raise ProtocolError(E_BAD_OPTIONS, str(exc)) from None
    except TypeError as exc:
        raise ProtocolError(E_BAD_OPTIONS, f"invalid options: {exc}") from None


def check_options_for(options: ScoreOptions, motion: Motion) -> None:
    """Options that depend on the motion (hits inside it); ProtocolError(E_BAD_OPTIONS) if not."""
    try:
        options.check_motion(motion.duration)
    except OptionsError as exc:
        raise ProtocolError(E_BAD_OPTIONS, str(exc)) from None


def score_request(job_id: str, motion: Motion, options: ScoreOptions) -> dict:
    return {"type": SCORE, "id": job_id, "motion": motion_to_wire(motion), "options": options.to_dict()}


def conform_request(job_id: str, motion: Motion, options: ScoreOptions, song: bytes, song_name: str,
                    conform: ConformOptions) -> dict:
    """Fit a song (the file's bytes: wav, flac, ogg or mp3) onto the motion's tempo map."""
    return {"type": CONFORM, "id": job_id, "motion": motion_to_wire(motion), "options": options.to_dict(),
            "song": {"name": song_name, "data": bytes(song)}, "conform": conform.to_dict()}


def song_from_wire(obj) -> tuple[bytes, str]:
    """(the file's bytes, its name) of a conform request; ProtocolError(E_BAD_SONG) if ill-formed."""
    if not isinstance(obj, dict) or set(obj) != {"name", "data"}:
        raise ProtocolError(E_BAD_SONG, "song must be a map with exactly name and data")
    name, data = obj["name"], obj["data"]
    if not isinstance(name, str) or not 0 < len(name) <= limits.MAX_SONG_NAME_CHARS:
        raise ProtocolError(E_BAD_SONG, f"song name must be a string of 1 to {limits.MAX_SONG_NAME_CHARS} characters")
    if not isinstance(data, bytes) or not data:
        raise ProtocolError(E_BAD_SONG, f"{name}: song data must be the file's bytes, not empty")
    if len(data) > limits.MAX_SONG_BYTES:
        raise ProtocolError(E_BAD_SONG, f"{name}: {len(data) / 2**20:.0f} MB is over the "
                                        f"{limits.MAX_SONG_BYTES // 2**20} MB limit for a song")
    return data, name



def error_message(code: str, message: str, job_id: str | None = None) -> dict:
    out = {"type": ERROR, "code": code, "message": message}
    if job_id is not None:
        out["id"] = job_id
    return out
