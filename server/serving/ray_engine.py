"""Serving on Ray Serve: the same ZeroMQ front, the backbone in Ray Serve replicas behind it.

Clients see one server (serving.service's ROUTER socket, protocol, keys, queue, cancel and
liveness rules, unchanged). Behind it every queued job becomes one streaming call to a Ray Serve
deployment whose replicas each load the backbone once; requests that wait together on a replica
are batched with ``serve.batch`` and run through serving.execution exactly as the local server
runs them. Ray does the placement (``num_gpus`` per replica), the replacement of dead replicas
and the autoscaling; we never schedule anything ourselves.

What crosses between the front and a replica: the score request as msgpack bytes (decoded on the
replica with the protocol's size limits and validation, like any client message), and back plain
dicts of progress, result or error messages.

Failure rules: a replica that dies mid-job (its process killed, its node lost) is retried once on
whichever replica Ray routes to next (it waits for Ray's replacement when none is left); a second
loss, or no word from the replica for ``stall_s`` seconds, ends the job with the typed error
``replica_failed``. Replicas send a heartbeat every HEARTBEAT_S while a job waits in their batch
queue, so silence really means trouble.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field

from motionscore.shared import protocol as P
from motionscore.shared.options import ConformOptions

from .execution import Task, run_tasks
from .service import Job, ScoreServer

log = logging.getLogger("motionscore.server")

APP_PREFIX = "motionscore"
DEPLOYMENT = "Scorer"
HEARTBEAT_S = 0.5
#: Batching window on a replica: requests arriving within it ride in one batch.
BATCH_WAIT_S = 0.02
#: Streaming calls a replica accepts at once (its batch queue; beyond it Ray routes elsewhere).
MAX_ONGOING = 16
HEARTBEAT = "heartbeat"


class RayUnavailable(RuntimeError):
    """Ray Serve is not installed or could not be started / joined."""


@dataclass
class RayOptions:
    """How to run the replicas. ``autoscale`` (min, max) replaces a fixed ``replicas`` count."""

    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    address: str | None = None
    gpus_per_replica: float = 0.0
    #: Seconds without any message from a replica before a job is declared lost.
    stall_s: float = 300.0
    app_name: str = field(default_factory=lambda: f"{APP_PREFIX}-{os.getpid()}")

    @property
    def max_replicas(self) -> int:
        return self.autoscale[1] if self.autoscale else self.replicas

    def deployment_options(self) -> dict:
        options: dict = {"max_ongoing_requests": MAX_ONGOING,
                         "ray_actor_options": {"num_gpus": self.gpus_per_replica, "num_cpus": 0}}
        if self.autoscale:
            low, high = self.autoscale
            # Ray scales on requests in flight per replica; one batch's worth keeps a GPU busy.
            options["autoscaling_config"] = {"min_replicas": low, "max_replicas": high, "initial_replicas": max(low, 1),
                                             "target_ongoing_requests": 4}
        else:
            options["num_replicas"] = self.replicas
        return options


def parse_autoscale(text: str) -> tuple[int, int]:
    """``"1:4"`` -> (1, 4); raises ValueError with a one-line reason."""
    try:
        low, high = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"--autoscale wants MIN:MAX replicas, e.g. 1:4, not {text!r}") from None
    if low < 0 or high < 1 or low > high:
        raise ValueError(f"--autoscale {text}: need 0 <= MIN <= MAX and MAX >= 1")
    return low, high


def ray_token_available() -> bool:
    """Whether a Ray cluster token is at hand (Ray's own places: env, token file, ~/.ray/auth_token)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    return os.path.isfile(path)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not after Ray's minutes of retries, when nothing listens at HOST:PORT."""
    import socket

    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # ray://, auto, ...: Ray's own resolution
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {address}: nothing answers there ({exc.strerror or exc}); "
                             f"start its head with `ray start --head --port {port}`") from None


class ScoringReplica:
    """One Ray Serve replica: loads the backbone once, scores batches of streaming requests."""

    def __init__(self, backbone_name: str, backbone_options: dict, warm_up: bool):
        from ray import serve

        from motionscore.server.generation.backbones import load_backbone

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        self.backbone = load_backbone(backbone_name, **backbone_options)
        context = serve.get_replica_context()
        self.replica = f"{context.deployment}#{context.replica_id.unique_id}"
        self.score_batch.set_max_batch_size(max(1, self.backbone.max_batch))
        if warm_up:
            from .warmup import warm_up as warm

            warm(self.backbone)

    def describe(self) -> dict:
        return {"backbone": self.backbone.describe(), "name": self.backbone.name, "model_id": self.backbone.model_id,
                "max_batch": self.backbone.max_batch, "channels": self.backbone.channels, "replica": self.replica,
                "pid": os.getpid()}

    async def score(self, request: bytes):
        """Stream one job's messages (dicts without ``id``), ending with its result or error."""
        message = P.decode(request)
        motion = P.motion_from_wire(message.get("motion"))
        options = P.options_from_wire(message.get("options"))
        song, song_name, conform = None, "", None
        if message.get("type") == P.CONFORM:
            song, song_name = P.song_from_wire(message.get("song"))
            conform = P.options_from_wire(message.get("conform"), ConformOptions)
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue = asyncio.Queue()
        task = Task(motion=motion, options=options, label=str(message.get("id")), song=song, song_name=song_name,
                    conform=conform, send=lambda m: loop.call_soon_threadsafe(messages.put_nowait, m))
        running = asyncio.ensure_future(self.score_batch(task))
        try:
            while True:
                try:
                    out = await asyncio.wait_for(messages.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    if running.done() and messages.empty():
                        running.result()  # raises what the batch raised; never a silent end
                        yield P.error_message(P.E_INTERNAL, f"replica {self.replica} ended the job without a result")
                        return
                    yield {"type": HEARTBEAT}
                    continue
                yield out
                if out["type"] in (P.RESULT, P.ERROR):
                    return
        finally:
            # The front went away or cancelled (Ray cancels this generator): stop the take.
            task.reason = "cancelled"
            task.cancel.set()

    async def score_batch(self, tasks: list[Task]) -> list[None]:
        """Run a batch that waited together (serve.batch wraps this in the deployment)."""
        groups: list[list[Task]] = []
        for task in tasks:
            if groups and task.joins(groups[-1][0]):
                groups[-1].append(task)
            else:
                groups.append([task])
        for group in groups:
            await asyncio.to_thread(run_tasks, group, self.backbone, {"replica": self.replica, "engine": "ray"})
        return [None] * len(tasks)


def _decorated_replica():
    """ScoringReplica as a Ray Serve deployment (ray is imported only when this engine is used)."""
    from ray import serve

    class Scorer(ScoringReplica):
        # serve.batch finds `self` by this attribute's name, so the wrapper keeps the method's name.
        score_batch = serve.batch(max_batch_size=8, batch_wait_timeout_s=BATCH_WAIT_S)(ScoringReplica.score_batch)

    Scorer.__name__ = Scorer.__qualname__ = DEPLOYMENT
    return serve.deployment(name=DEPLOYMENT)(Scorer)


@dataclass
class RemoteBackbone:
    """What the front knows of the backbone its replicas run (for hello and routing checks)."""

    name: str
    model_id: str
    max_batch: int
    channels: int
    info: dict

    def describe(self) -> dict:
        return self.info


class RayScoreServer(ScoreServer):
    """The ZeroMQ front of :class:`ScoreServer`, running every job on a Ray Serve replica."""

    def __init__(self, backbone_name: str, backbone_options: dict, ray_options: RayOptions, **front):
        super().__init__(backbone=None, **front)  # type: ignore[arg-type] - set once the replicas are up
        self.backbone_name = backbone_name
        self.backbone_options = backbone_options
        self.ray_options = ray_options
        self.replica_warm_up = self.warm_up
        self.warm_up = False  # the replicas warm themselves up before Ray calls them ready
        self.handle = None
        self._started_ray = False

    # -- engine lifecycle -------------------------------------------------------------------
    def _start_engine(self) -> None:
        if self.ray_options.address and "RAY_AUTH_MODE" not in os.environ and ray_token_available():
            # A cluster made with `ray start --head` has token auth on; a client must say so, and
            # Ray reads the mode once, when it is imported.
            os.environ["RAY_AUTH_MODE"] = "token"
        try:
            import ray
            from ray import serve
        except ImportError as exc:
            raise RayUnavailable(f"--engine ray needs Ray Serve (pip install 'ray[serve]'; the dev and runtime "
                                 f"environments of scripts/setup.sh have it): {exc}") from None
        opts = self.ray_options
        # ray.init installs its own C-level SIGTERM handler (it dumps a stack and aborts): keep ours,
        # so that a stop still cancels the jobs, removes the app and stops the local Ray.
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        if not ray.is_initialized():
            if opts.address:
                log.info("joining the Ray cluster at %s", opts.address)
                check_reachable(opts.address)
                try:
                    ray.init(address=opts.address, log_to_driver=False)
                except Exception as exc:
                    raise RayUnavailable(f"cannot join the Ray cluster at {opts.address}: "
                                         f"{str(exc).strip().splitlines()[0]}") from None
            else:
                # A private, single-machine Ray: no dashboard, node address loopback; stopped with us.
                log.info("starting a local Ray instance")
                # address="local": a new instance even when `ray start` left a cluster on this machine.
                ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                         num_cpus=max(os.cpu_count() or 1, opts.max_replicas),
                         num_gpus=None if opts.gpus_per_replica else 0)
                self._started_ray = True
        # Clients reach the replicas only through our ZeroMQ front: no Serve HTTP/gRPC proxy.
        serve.start(proxy_location="Disabled")
        deployment = _decorated_replica().options(**opts.deployment_options())
        app = deployment.bind(self.backbone_name, self.backbone_options, self.replica_warm_up)
        started = time.monotonic()
        try:
            self.handle = serve.run(app, name=opts.app_name, route_prefix=None)
        except Exception as exc:
            self._stop_engine()
            raise RayUnavailable(f"the replicas did not start: {str(exc).strip().splitlines()[-1]}") from None
        card = self.handle.describe.remote().result(timeout_s=opts.stall_s)
        self.backbone = RemoteBackbone(name=card["name"], model_id=card["model_id"], max_batch=card["max_batch"],
                                       channels=card["channels"],
                                       info={**card["backbone"], "engine": "ray", "replicas": self._replica_count()})
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                if callable(handler):
                    signal.signal(sig, handler)
        # Enough jobs in flight to fill every replica's batch; the rest wait in our queue.
        self.workers = max(2, opts.max_replicas * max(1, card["max_batch"]) * 2)
        log.info("Ray Serve app %s: %s replica(s) of %s up in %.1f s", opts.app_name,
                 f"{opts.autoscale[0]}..{opts.autoscale[1]}" if opts.autoscale else opts.replicas,
                 card["name"], time.monotonic() - started)

    def _replica_count(self) -> int:
        from ray import serve

        try:
            status = serve.status().applications[self.ray_options.app_name].deployments[DEPLOYMENT]
            return int(status.replica_states.get("RUNNING", 0))
        except Exception:  # status is informative only
            return self.ray_options.replicas

    def _stop_engine(self) -> None:
        try:
            import ray
            from ray import serve
        except ImportError:
            return
        if not ray.is_initialized():
            return
        try:
            if self._started_ray:
                serve.shutdown()
            else:
                serve.delete(self.ray_options.app_name)
        except Exception as exc:  # shutting down must not hide the reason we stopped
            log.warning("could not remove the Ray Serve app: %s", exc)
        ray.shutdown()

    # -- jobs --------------------------------------------------------------------------------
    def _worker(self) -> None:
        push = self._worker_socket()
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                job.send = self._sender(job, push)
                try:
                    self._run_on_replica(job)
                finally:
                    self._done([job])
        finally:
            push.close(0)

    def _run_on_replica(self, job: Job) -> None:
        request = P.encode(P.score_request(job.job_id, job.motion, job.options))
        for attempt in (1, 2):
            outcome = self._stream(job, request)
            if outcome is None:
                return
            if attempt == 1:
                log.warning("job %s: %s; retrying once", job.job_id, outcome)
                job.send({"type": P.PROGRESS, "fraction": 0.0, "stage": "a replica was lost; retrying"})
        job.send(P.error_message(P.E_REPLICA_FAILED, f"the job failed on two replicas ({outcome})"))

    def _stream(self, job: Job, request: bytes) -> str | None:
        """Run the job once; None when it reached its end (result, error or cancel), else why not."""
        import ray.exceptions

        response = self.handle.options(stream=True).score.remote(request)
        inbox: queue.Queue = queue.Queue()

        def pump() -> None:
            try:
                for item in response:
                    inbox.put(("message", item))
                inbox.put(("end", None))
            except BaseException as exc:  # noqa: BLE001 - every failure is reported to the worker
                inbox.put(("failed", exc))

        threading.Thread(target=pump, name=f"motionscore-ray-{job.job_id}", daemon=True).start()
        deadline = time.monotonic() + self.ray_options.stall_s
        while True:
            if job.cancel.is_set():
                response.cancel()
                job.send(P.error_message(P.E_CANCELLED, job.reason))
                return None
            try:
                kind, value = inbox.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    response.cancel()
                    return f"no word from the replica for {self.ray_options.stall_s:g} s"
                continue
            deadline = time.monotonic() + self.ray_options.stall_s
            if kind == "message":
                if value.get("type") == HEARTBEAT:
                    continue
                job.send(value)
                if value.get("type") in (P.RESULT, P.ERROR):
                    return None
            elif kind == "end":
                return "the replica ended the stream without a result"
            else:
                lost = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)
                if isinstance(value, lost) or "died" in str(value).lower():
                    return f"replica lost: {type(value).__name__}"
                if job.cancel.is_set():
                    continue
                log.error("job %s: the replica call failed: %r", job.job_id, value)
                job.send(P.error_message(P.E_INTERNAL, f"{type(value).__name__}: {str(value).strip().splitlines()[-1]}"))
                return None
