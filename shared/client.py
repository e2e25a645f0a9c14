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
from dataclasses import dataclass, field

import numpy as np

from . import limits
from . import protocol as P
from .motion import Motion
from .options import ScoreOptions

DEFAULT_ADDRESS = "tcp://127.0.0.1:5757"
ADDRESS_ENV = "MOTIONSCORE_SERVER"
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


@dataclass
class JobResult:
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

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class ScoreClient:
    """One DEALER connection to a server. Not thread-safe: use it from one thread."""

    def __init__(self, address: str | None = None, timeout: float = 10.0):
        import zmq

        self._zmq = zmq
        self.address = address or default_address()
        self.timeout = timeout
        self.ctx = zmq.Context.instance()
        self.socket = self.ctx.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, limits.MAX_REPLY_BYTES)
        self.socket.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        self.socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        try:
            self.socket.connect(self.address)
        except zmq.ZMQError as exc:
            self.socket.close(0)
            raise ServerError(E_UNREACHABLE, f"bad server address {self.address!r}: {exc}") from None
        self.jobs: dict[str, JobState] = {}
        self._last_sent = 0.0
        self._last_heard = time.monotonic()

    # -- plumbing --------------------------------------------------------------------------
    def close(self) -> None:
        self.socket.close(0)

    def __enter__(self) -> "ScoreClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, message: dict) -> None:
        self.socket.send(P.encode(message), copy=False)
        self._last_sent = time.monotonic()

    def _receive(self, timeout_s: float) -> dict | None:
        if not self.socket.poll(int(max(timeout_s, 0) * 1000)):
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
        elif kind == P.ACCEPTED:
            job.stage = "queued"
        elif kind == P.RESULT:
            audio = P.decode_array(message["audio"], "audio", limits.MAX_REPLY_BYTES // 4)
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
        job_id = self.submit(motion, options)
        job = self.jobs[job_id]
        shown = None
        try:
            while not job.done:
                self.poll(timeout=min(KEEPALIVE_S, self.timeout) / 2)
                if on_progress is not None and (job.fraction, job.stage) != shown:
                    shown = (job.fraction, job.stage)
                    on_progress(job.fraction, job.stage)
        except KeyboardInterrupt:
            self.cancel(job_id)
            raise
        finally:
            self.jobs.pop(job_id, None)
        if job.error is not None:
            raise job.error
        return job.result
