"""The inference server: a ZeroMQ ROUTER socket, a bounded job queue and worker threads.

Threading model (pyzmq sockets are not thread-safe): the main thread owns the ROUTER socket and
does all receiving, validation and sending; workers run jobs and hand every outgoing message to
the main thread through an inproc PUSH/PULL pair. The main thread also reaps jobs whose client
has gone silent for ``client_timeout`` seconds (clients ping while they wait; see
docs/protocol.md), so a vanished client never holds the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from motionscore.shared import limits
from motionscore.shared import protocol as P
from motionscore.shared.options import ConformOptions
from motionscore.shared.client import DEFAULT_ADDRESS
from motionscore.shared.genres import GENRE_NAMES

from motionscore.shared import __version__
from motionscore.server.generation.backbones import Backbone
from .execution import Task, run_tasks
from motionscore.server.generation.pipeline import ChannelsError, output_channels

log = logging.getLogger("motionscore.server")

#: Messages above this size are dropped by ZeroMQ itself (the connection is closed); between
#: MAX_REQUEST_BYTES and this the server answers with a too_large error.
HARD_MESSAGE_CAP = 4 * limits.MAX_REQUEST_BYTES


@dataclass(kw_only=True)
class Job(Task):
    """A client's score request while it is queued or running."""

    identity: bytes
    job_id: str
    #: ROUTER routing frames of the client (identity, plus an empty delimiter for REQ clients).
    envelope: list = field(default_factory=list)


def is_loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return address.startswith(("ipc://", "inproc://")) or host in ("127.0.0.1", "localhost", "::1") \
        or host.startswith("127.")


class ScoreServer:
    """Serve scoring requests for one backbone until :meth:`stop` is called."""

    def __init__(self, backbone: Backbone, address: str = DEFAULT_ADDRESS, workers: int = 1,
                 max_queue: int = 64, client_timeout: float = 30.0, warm_up: bool = False,
                 keys: Path | None = None):
        self.backbone = backbone
        self.warm_up = warm_up
        #: A key folder (serving.keys): CurveZMQ on the socket, only its clients/ admitted.
        self.keys = Path(keys) if keys is not None else None
        self._reload_keys = threading.Event()
        self.address = address
        self.workers = max(1, workers)
        self.client_timeout = client_timeout
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.pending: dict[tuple[bytes, str], Job] = {}
        self.last_seen: dict[bytes, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.ctx = zmq.Context()
        self._outbox = f"inproc://motionscore-outbox-{id(self)}"
        self.bound_address: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def reload_keys(self) -> None:
        """Re-read the authorised clients (SIGHUP); the folder is also watched every second."""
        self._reload_keys.set()

    def _start_curve(self, router):
        """CurveZMQ on ``router`` and a ZAP authenticator admitting the keys in ``clients/``.
        Returns (authenticator, clients folder, its signature)."""
        from zmq.auth.thread import ThreadAuthenticator

        from .keys import clients_signature, server_keys

        public, secret, clients = server_keys(self.keys)
        auth = ThreadAuthenticator(self.ctx, log=logging.getLogger("motionscore.server.auth"))
        auth.start()
        auth.configure_curve(domain="*", location=str(clients))
        router.curve_server = True
        router.curve_publickey, router.curve_secretkey = public, secret
        return auth, clients, clients_signature(clients)

    def serve_forever(self, ready: threading.Event | None = None) -> None:
        """Bind, serve until :meth:`stop`. With ``warm_up`` one short take runs right after binding
        (so a busy address fails at once) and before the first message is read: no client is
        answered by a server that is not warm yet; early messages wait in the socket's queue."""
        router = self.ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.MAXMSGSIZE, HARD_MESSAGE_CAP)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        # TCP-level liveness: dead peers are noticed even when they never said goodbye.
        router.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        auth = None
        if self.keys is not None:
            from .keys import clients_signature

            auth, clients, signature = self._start_curve(router)
        try:
            router.bind(self.address)
        except zmq.ZMQError:
            if auth is not None:
                auth.stop()
            router.close(0)
            raise
        self.bound_address = router.getsockopt(zmq.LAST_ENDPOINT).decode()
        try:
            self._start_engine()
        except BaseException:
            if auth is not None:
                auth.stop()
            router.close(0)
            raise
        inbox = self.ctx.socket(zmq.PULL)
        inbox.setsockopt(zmq.LINGER, 0)
        inbox.bind(self._outbox)
        threads = [threading.Thread(target=self._worker, name=f"motionscore-worker-{i}", daemon=True)
                   for i in range(self.workers)]
        for thread in threads:
            thread.start()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(inbox, zmq.POLLIN)
        log.info("serving %s (%s) on %s%s", self.backbone.name, self.backbone.model_id, self.bound_address,
                 f", CurveZMQ keys from {self.keys}" if self.keys is not None else "")
        if ready is not None:
            ready.set()
        next_reap = time.monotonic() + 1.0
        try:
            while not self._stop.is_set():
                events = dict(poller.poll(100))
                if inbox in events:
                    while True:
                        try:
                            frames = inbox.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        router.send_multipart(frames)
                if router in events:
                    for _ in range(64):
                        try:
                            frames = router.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        for reply in self._handle(frames):
                            router.send_multipart(reply)
                if time.monotonic() >= next_reap:
                    self._reap_silent_clients()
                    next_reap = time.monotonic() + 1.0
                    if auth is not None:
                        current = clients_signature(clients)
                        if current != signature or self._reload_keys.is_set():
                            self._reload_keys.clear()
                            auth.configure_curve(domain="*", location=str(clients))
                            signature = current
                            log.info("authorised clients re-read from %s (%d keys)", clients, len(current))
        finally:
            log.info("shutting down")
            with self._lock:
                for job in self.pending.values():
                    job.reason = "the server is shutting down"
                    job.cancel.set()
            self._drain_queue()
            for _ in threads:
                self.jobs.put(None)
            for thread in threads:
                thread.join(timeout=5.0)
            self._stop_engine()
            if auth is not None:
                auth.stop()
            router.close(0)
            inbox.close(0)
            self.ctx.term()

    # -- engine (serving.ray_engine overrides these three and _worker) -----------------------
    def _start_engine(self) -> None:
        """After binding, before the first message is read: make the backbone ready."""
        if self.warm_up:
            from .warmup import warm_up

            warm_up(self.backbone)

    def _stop_engine(self) -> None:
        """After the workers have stopped."""

    def _worker_socket(self):
        """A PUSH socket into the main thread's outbox, one per worker thread."""
        push = self.ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(self._outbox)
        return push

    def _drain_queue(self) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.cancel.set()

    # -- requests --------------------------------------------------------------------------
    def _handle(self, frames: list[bytes]) -> list[list[bytes]]:
        """Answer one incoming multipart message; returns frames to send (main thread only)."""
        identity = frames[0]
        envelope = [identity]
        body = frames[1:]
        if len(body) == 2 and body[0] == b"":  # a REQ-style client adds an empty delimiter
            envelope, body = [identity, b""], body[1:]
        self.last_seen[identity] = time.monotonic()
        if len(body) != 1:
            return [envelope + [P.encode(P.error_message(P.E_BAD_MESSAGE, f"expected one frame, got {len(body)}"))]]
        job_id = None
        try:
            message = P.decode(body[0])
            job_id = message.get("id")
            kind = message["type"]
            if kind == P.PING:
                reply = {"type": P.PONG}
            elif kind == P.HELLO:
                reply = self._info()
            elif kind in (P.SCORE, P.CONFORM):
                reply = self._accept(identity, envelope, message)
            elif kind == P.CANCEL:
                reply = self._cancel(identity, message)
            else:
                raise P.ProtocolError(P.E_UNKNOWN_TYPE, f"unknown message type {kind!r}; "
                                      f"a client may send {', '.join(P.CLIENT_TYPES)}")
        except P.ProtocolError as exc:
            reply = P.error_message(exc.code, exc.message)
        if job_id is not None:
            reply["id"] = job_id
        return [envelope + [P.encode(reply)]]

    def _info(self) -> dict:
        return {
            "type": P.INFO, "server": "motionscore", "version": __version__, "protocol": P.PROTOCOL_VERSION,
            "keys_required": self.keys is not None,
            "backbone": self.backbone.describe(), "genres": list(GENRE_NAMES),
            "limits": {"max_request_bytes": limits.MAX_REQUEST_BYTES, "max_song_bytes": limits.MAX_SONG_BYTES,
                       "max_frames": limits.MAX_FRAMES,
                       "max_joints": limits.MAX_JOINTS, "max_duration_s": limits.MAX_DURATION_S,
                       "min_fps": limits.MIN_FPS, "max_fps": limits.MAX_FPS},
            "client_timeout_s": self.client_timeout, "queue": self.jobs.qsize(),
        }

    def _accept(self, identity: bytes, envelope: list[bytes], message: dict) -> dict:
        job_id = message.get("id")
        if job_id is None:
            raise P.ProtocolError(P.E_BAD_MESSAGE, f"a {message['type']} request needs an 'id'")
        motion = P.motion_from_wire(message.get("motion"))
        options = P.options_from_wire(message.get("options"))
        P.check_options_for(options, motion)
        song, song_name, conform = None, "", None
        if message["type"] == P.CONFORM:
            song, song_name = P.song_from_wire(message.get("song"))
            conform = P.options_from_wire(message.get("conform"), ConformOptions)
        if song is None and options.backbone is not None and options.backbone != self.backbone.name:
            raise P.ProtocolError(P.E_WRONG_BACKBONE, f"this server runs backbone {self.backbone.name!r}, "
                                  f"not {options.backbone!r}")
        try:
            if song is None:
                output_channels(options, self.backbone)
        except ChannelsError as exc:
            raise P.ProtocolError(P.E_BAD_OPTIONS, str(exc)) from None
        key = (identity, job_id)
        with self._lock:
            if key in self.pending:
                raise P.ProtocolError(P.E_DUPLICATE_ID, f"a job with id {job_id!r} is already pending")
            job = Job(identity=identity, job_id=job_id, motion=motion, options=options, envelope=envelope,
                      label=str(job_id), song=song, song_name=song_name, conform=conform)
            try:
                self.jobs.put_nowait(job)
            except queue.Full:
                raise P.ProtocolError(P.E_BUSY, f"the queue is full ({self.jobs.maxsize} jobs); try again later") from None
            self.pending[key] = job
        return {"type": P.ACCEPTED, "position": self.jobs.qsize()}

    def _cancel(self, identity: bytes, message: dict) -> dict:
        job_id = message.get("id")
        with self._lock:
            job = self.pending.get((identity, job_id))
        if job is None:
            raise P.ProtocolError(P.E_UNKNOWN_JOB, f"no pending job with id {job_id!r}")
        job.reason = "cancelled by the client"
        job.cancel.set()
        # The job's own terminal message is an error with code 'cancelled'; this acknowledges.
        return {"type": P.PONG, "cancelling": True}

    def _reap_silent_clients(self) -> None:
        now = time.monotonic()
        with self._lock:
            for job in self.pending.values():
                seen = self.last_seen.get(job.identity, now)
                if now - seen > self.client_timeout and not job.cancel.is_set():
                    job.reason = f"client silent for more than {self.client_timeout:g} s"
                    job.cancel.set()
                    log.warning("job %s: %s", job.job_id, job.reason)
            active = {job.identity for job in self.pending.values()}
        for identity in [i for i, t in self.last_seen.items() if i not in active and now - t > 10 * self.client_timeout]:
            del self.last_seen[identity]

    # -- workers ---------------------------------------------------------------------------
    def _worker(self) -> None:
        push = self._worker_socket()
        carry: Job | None = None
        try:
            while True:
                job, carry = (carry, None) if carry is not None else (self.jobs.get(), None)
                if job is None:
                    return
                batch = [job]
                # Requests that are already waiting ride along in one batch (same guidance and rate).
                while len(batch) < self.backbone.max_batch:
                    try:
                        extra = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if extra is None:
                        self.jobs.put(None)
                        break
                    if not extra.joins(job):
                        carry = extra
                        break
                    batch.append(extra)
                try:
                    for member in batch:
                        member.send = self._sender(member, push)
                    run_tasks(batch, self.backbone)
                finally:
                    self._done(batch)
        finally:
            push.close(0)

    def _done(self, jobs: list[Job]) -> None:
        with self._lock:
            for job in jobs:
                self.pending.pop((job.identity, job.job_id), None)

    @staticmethod
    def _sender(job: Job, push):
        """Send one of ``job``'s messages through the worker's PUSH socket (the main thread routes it)."""
        def send(message: dict) -> None:
            message["id"] = job.job_id
            push.send_multipart(job.envelope + [P.encode(message)])
        return send
