"""A client for the motionscore server, used by the command line and the Blender add-on.

Two ways to use it:

- blocking: ``ScoreClient(address).score(motion, options, on_progress=...)`` (CLI, ``blender -b``);
- non-blocking: ``submit()`` then ``poll()`` from a timer (Blender's UI), which never waits longer
  than the timeout it is given.

While a job is pending the client pings the server every ``KEEPALIVE_S`` seconds: the server
cancels jobs of clients that go silent, and a server that stops answering is detected within
``timeout`` seconds. pyzmq is imported lazily so that this module imports without it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import limits
from . import protocol as P
from .motion import Motion
from .options import ConformOptions, ScoreOptions

DEFAULT_ADDRESS = "tcp://127.0.0.1:5757"
ADDRESS_ENV = "MOTIONSCORE_SERVER"
#: CurveZMQ key files (pyzmq certificates): the server's public key and this client's key pair.
SERVER_KEY_ENV = "MOTIONSCORE_SERVER_KEY"
CLIENT_KEY_ENV = "MOTIONSCORE_CLIENT_KEY"
KEEPALIVE_S = 1.0


def default_address() -> str:
    """``$MOTIONSCORE_SERVER`` if set, else the loopback default."""
    return os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS


class ServerError(Exception):
    """The server answered with an error (``code`` from protocol.E_*) or could not be reached."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


#: Codes used by the client itself.
E_UNREACHABLE = "unreachable"
E_TIMEOUT = "timeout"
E_KEY_REQUIRED = "key_required"   # a keyed server, a client without keys
E_KEY_REFUSED = "key_refused"     # the server's authenticator refused this client's key
E_BAD_KEY = "bad_key"             # a key file that cannot be used, or a handshake that failed


def default_keys() -> tuple[str | None, str | None]:
    """(server public key file, client key pair file) from ``$MOTIONSCORE_SERVER_KEY`` and
    ``$MOTIONSCORE_CLIENT_KEY`` (None when unset)."""
    return os.environ.get(SERVER_KEY_ENV) or None, os.environ.get(CLIENT_KEY_ENV) or None


def _load_keys(zmq, server_key: str, client_key: str) -> tuple[bytes, bytes, bytes]:
    """(server public, client public, client secret) from pyzmq certificate files, or ServerError."""
    import zmq.auth

    if not zmq.has("curve"):
        raise ServerError(E_BAD_KEY, "this pyzmq has no CurveZMQ support, so it cannot use keys")
    try:
        server_public, _ = zmq.auth.load_certificate(server_key)
    except (OSError, ValueError) as exc:
        raise ServerError(E_BAD_KEY, f"server key {server_key}: not a key file ({exc})") from None
    try:
        client_public, client_secret = zmq.auth.load_certificate(client_key)
    except (OSError, ValueError) as exc:
        raise ServerError(E_BAD_KEY, f"client key {client_key}: not a key file ({exc})") from None
    if not client_secret:
        raise ServerError(E_BAD_KEY, f"client key {client_key} is a public key; the client needs its key pair "
                                     f"(the NAME.key_secret file `motionscore keys add` printed)")
    return server_public, client_public, client_secret


@dataclass
class JobResult:
    """A take: ``audio`` float32 (n,) mono or (n, 2) stereo, at ``sample_rate`` Hz."""

    audio: np.ndarray
    sample_rate: int
    metadata: dict


@dataclass
class JobState:
    """What the client knows of one submitted job (updated by :meth:`ScoreClient.poll`)."""

    job_id: str
    fraction: float = 0.0
    stage: str = "queued"
    result: JobResult | None = None
    error: ServerError | None = None
    submitted: float = field(default_factory=time.monotonic)
    #: Progress (fraction, stage) received since :meth:`ScoreClient.wait` last reported, in order;
    #: several may arrive in one poll, and a blocking caller must see every stage, not just the last.
    updates: deque = field(default_factory=lambda: deque(maxlen=256))

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class ScoreClient:
    """One DEALER connection to a server. Not thread-safe: use it from one thread."""

    def __init__(self, address: str | None = None, timeout: float = 10.0, server_key: str | None = None,
                 client_key: str | None = None):
        """``server_key`` (the server's ``server.key``) and ``client_key`` (this client's
        ``NAME.key_secret``) switch on CurveZMQ; they default to ``$MOTIONSCORE_SERVER_KEY`` and
        ``$MOTIONSCORE_CLIENT_KEY``. Raises ServerError (E_BAD_KEY) for unusable key files."""
        import zmq

        self._zmq = zmq
        self.address = address or default_address()
        self.timeout = timeout
        env_server, env_client = default_keys()
        server_key, client_key = server_key or env_server, client_key or env_client
        if (server_key is None) != (client_key is None):
            raise ServerError(E_BAD_KEY, "keys come in twos: give both the server's public key and this client's "
                                         f"key pair (--server-key/--client-key or ${SERVER_KEY_ENV}/${CLIENT_KEY_ENV})")
        self.keyed = server_key is not None
        curve = _load_keys(zmq, server_key, client_key) if self.keyed else None
        self.ctx = zmq.Context.instance()
        self.socket = self.ctx.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, limits.MAX_REPLY_BYTES)
        self.socket.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        self.socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        if curve is not None:
            self.socket.curve_serverkey, self.socket.curve_publickey, self.socket.curve_secretkey = curve
        # Handshake failures (no key, a refused key, the wrong server key) are only visible as
        # socket events; without them a refused client would just time out.
        self._monitor = self.socket.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
            addr=f"inproc://motionscore-monitor-{uuid.uuid4().hex}")
        try:
            self.socket.connect(self.address)
        except zmq.ZMQError as exc:
            self.close()
            raise ServerError(E_UNREACHABLE, f"bad server address {self.address!r}: {exc}") from None
        self.jobs: dict[str, JobState] = {}
        self._last_sent = 0.0
        self._last_heard = time.monotonic()

    # -- plumbing --------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self.socket.disable_monitor()
        except self._zmq.ZMQError:
            pass
        self._monitor.close(0)
        self.socket.close(0)

    def _check_handshake(self) -> None:
        """Raise the clear error of a failed key handshake, if the socket reported one."""
        from zmq.utils.monitor import recv_monitor_message

        zmq = self._zmq
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise ServerError(E_KEY_REFUSED, f"the server at {self.address} refused this client's key "
                                                 f"(ask its admin for one: motionscore keys add)")
            if not self.keyed:  # a plaintext client only fails a handshake with a keyed server
                raise ServerError(E_KEY_REQUIRED, f"the server at {self.address} needs a key: see motionscore keys "
                                                  f"(--server-key/--client-key)")
            if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                raise ServerError(E_BAD_KEY, f"the server at {self.address} does not use keys; drop "
                                             f"--server-key/--client-key")
            raise ServerError(E_BAD_KEY, f"the key handshake with {self.address} failed: is --server-key that "
                                         f"server's server.key?")

    def __enter__(self) -> "ScoreClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, message: dict) -> None:
        self.socket.send(P.encode(message), copy=False)
        self._last_sent = time.monotonic()

    def _receive(self, timeout_s: float) -> dict | None:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            self._check_handshake()
            # Short waits, so that a refused handshake ends the wait within a fraction of a second.
            if self.socket.poll(int(min(max(deadline - time.monotonic(), 0.0), 0.1) * 1000)):
                break
            if time.monotonic() >= deadline:
                self._check_handshake()
                return None
        raw = self.socket.recv()
        self._last_heard = time.monotonic()
        try:
            return P.decode(raw, max_bytes=limits.MAX_REPLY_BYTES)
        except P.ProtocolError as exc:
            return P.error_message(exc.code, f"unreadable reply from the server: {exc.message}")

    def _dispatch(self, message: dict) -> None:
        job = self.jobs.get(message.get("id", ""))
        kind = message.get("type")
        if job is None:  # a pong, or a late reply to an abandoned request: proof of life only
            return
        if kind == P.PROGRESS:
            job.fraction, job.stage = float(message.get("fraction", 0.0)), str(message.get("stage", ""))
            job.updates.append((job.fraction, job.stage))
        elif kind == P.ACCEPTED:
            job.stage = "queued"
        elif kind == P.RESULT:
            audio = P.decode_array(message["audio"], "audio", limits.MAX_REPLY_BYTES // 4)
            if not (audio.ndim == 1 or (audio.ndim == 2 and audio.shape[1] == 2)):
                job.error = ServerError(P.E_BAD_MESSAGE, f"the server sent audio of shape {audio.shape}; "
                                                         f"a take is (n,) mono or (n, 2) stereo")
                return
            job.result = JobResult(audio=np.array(audio, dtype=np.float32), sample_rate=int(message["sample_rate"]),
                                   metadata=message.get("metadata", {}))
            job.fraction, job.stage = 1.0, "done"
        elif kind == P.ERROR:
            job.error = ServerError(message.get("code", P.E_INTERNAL), message.get("message", "unknown error"))
        # pong and anything else only prove the server is alive

    def _request(self, message: dict, timeout: float | None = None) -> dict:
        """Send one request and wait for the reply with the same id."""
        request_id = message.setdefault("id", uuid.uuid4().hex)
        self._send(message)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            reply = self._receive(deadline - time.monotonic())
            if reply is None:
                break
            if reply.get("id") == request_id and reply.get("id") not in self.jobs:
                return reply
            self._dispatch(reply)
        raise ServerError(E_UNREACHABLE, f"no motionscore server answered at {self.address} within "
                          f"{self.timeout if timeout is None else timeout:g} s (start one with `motionscore serve`)")

    # -- API -------------------------------------------------------------------------------
    def hello(self, timeout: float | None = None) -> dict:
        """The server's info message (version, backbone, genres, limits). Raises ServerError."""
        reply = self._request({"type": P.HELLO}, timeout)
        if reply.get("type") == P.ERROR:
            raise ServerError(reply.get("code", P.E_INTERNAL), reply.get("message", ""))
        return reply

    def submit(self, motion: Motion, options: ScoreOptions, job_id: str | None = None) -> str:
        """Send a score request without waiting; returns the job id to poll or cancel."""
        job_id = job_id or uuid.uuid4().hex
        self.jobs[job_id] = JobState(job_id)
        self._last_heard = time.monotonic()
        self._send(P.score_request(job_id, motion, options))
        return job_id

    def submit_conform(self, motion: Motion, options: ScoreOptions, song: bytes, song_name: str,
                       conform: ConformOptions | None = None, job_id: str | None = None) -> str:
        """Send a conform request (the song file's bytes) without waiting; returns the job id."""
        job_id = job_id or uuid.uuid4().hex
        self.jobs[job_id] = JobState(job_id)
        self._last_heard = time.monotonic()
        self._send(P.conform_request(job_id, motion, options, song, song_name, conform or ConformOptions()))
        return job_id

    def cancel(self, job_id: str) -> None:
        """Ask the server to stop a job; its state ends with an error of code 'cancelled'."""
        self._send({"type": P.CANCEL, "id": job_id})

    def poll(self, timeout: float = 0.0) -> None:
        """Read what has arrived (waiting at most ``timeout`` s), keep the connection alive, and
        fail pending jobs with E_TIMEOUT when the server has been silent for ``self.timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(max(deadline - time.monotonic(), 0.0))
            if message is None:
                break
            self._dispatch(message)
            if timeout == 0.0:
                continue
            if any(j.done for j in self.jobs.values()):
                break
        pending = [j for j in self.jobs.values() if not j.done]
        now = time.monotonic()
        if pending and now - self._last_sent >= KEEPALIVE_S:
            self._send({"type": P.PING})
        if pending and now - self._last_heard > self.timeout:
            for job in pending:
                job.error = ServerError(E_TIMEOUT, f"the server at {self.address} stopped answering "
                                        f"(nothing for {self.timeout:g} s)")

    def score(self, motion: Motion, options: ScoreOptions, on_progress=None) -> JobResult:
        """Submit and wait for the result; ``on_progress(fraction, stage)`` is called on updates.

        Raises:
            ServerError: unreachable server, timeout, or the server's typed error.
        """
        self.hello()  # fail fast with a clear message when nothing listens
        return self.wait(self.submit(motion, options), on_progress)

    def conform(self, motion: Motion, options: ScoreOptions, song: bytes, song_name: str,
                conform: ConformOptions | None = None, on_progress=None) -> JobResult:
        """Fit a song onto the motion's tempo map and wait for the take (see :meth:`score`)."""
        self.hello()
        return self.wait(self.submit_conform(motion, options, song, song_name, conform), on_progress)

    def wait(self, job_id: str, on_progress=None) -> JobResult:
        """Wait for a submitted job's result; Ctrl-C cancels it. Raises ServerError."""
        job = self.jobs[job_id]
        shown = None
        try:
            while not job.done:
                self.poll(timeout=min(KEEPALIVE_S, self.timeout) / 2)
                if on_progress is None:
                    continue
                updates = list(job.updates) + [(job.fraction, job.stage)]
                job.updates.clear()
                for update in updates:
                    if update != shown:
                        shown = update
                        on_progress(*update)
        except KeyboardInterrupt:
            self.cancel(job_id)
            raise
        finally:
            self.jobs.pop(job_id, None)
        if job.error is not None:
            raise job.error
        return job.result
