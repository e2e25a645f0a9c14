"""`serve` (the inference server), `batch` (shots through headless Blender) and `keys` (CurveZMQ)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path


from motionscore.shared.client import DEFAULT_ADDRESS, ServerError, default_address


from .common import EXIT_FAILED, Failure, UserError, add_key_options, add_model_options, load_backbone_from_args


def cmd_serve(args: argparse.Namespace) -> int:
    from motionscore.server.serving.keys import KeyError_, server_keys
    from motionscore.server.serving.service import ScoreServer, is_loopback

    if args.keys:
        try:
            server_keys(Path(args.keys))
        except KeyError_ as exc:
            raise UserError(str(exc)) from None
    elif not is_loopback(args.bind):
        if not args.allow_remote:
            raise UserError(f"{args.bind} is not a loopback address: serving other machines needs --keys DIR "
                            f"(make one with `motionscore keys init DIR`)")
        print(f"motionscore: WARNING: serving {args.bind} without keys: anyone who reaches this port can use "
              f"the GPU and read the music (--allow-remote)", file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    front = dict(address=args.bind, max_queue=args.queue, client_timeout=args.client_timeout,
                 warm_up=not args.no_warm_up, keys=Path(args.keys) if args.keys else None)
    if args.engine == "ray":
        server = _ray_server(args, front)
    else:
        for flag, value in (("--replicas", args.replicas), ("--autoscale", args.autoscale),
                            ("--ray-address", args.ray_address), ("--gpus-per-replica", args.gpus_per_replica)):
            if value is not None:
                raise UserError(f"{flag} is an option of --engine ray")
        backbone = load_backbone_from_args(args, args.backbone)
        server = ScoreServer(backbone, workers=args.workers, **front)

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        logging.getLogger("motionscore.server").info("signal %s received", signal.Signals(signum).name)
        server.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: server.reload_keys())
    ready = threading.Event()
    try:
        server.serve_forever(ready)
    except Exception as exc:  # zmq bind errors: address in use, bad address; Ray that did not start
        if not ready.is_set():
            if type(exc).__name__ == "RayUnavailable":
                raise Failure(str(exc)) from None
            raise Failure(f"cannot serve on {args.bind}: {exc}") from None
        raise
    return 0


def _ray_server(args: argparse.Namespace, front: dict):
    """`serve --engine ray`: the ZeroMQ front with the backbone in Ray Serve replicas."""
    from motionscore.server.generation.backbones import REGISTRY
    from motionscore.server.serving.ray_engine import RayOptions, RayScoreServer, parse_autoscale

    if args.backbone not in REGISTRY:
        load_backbone_from_args(args, args.backbone)  # the usual one-line error for an unknown name
    if args.workers != 1:
        raise UserError("--workers is the local engine's; with --engine ray use --replicas N or --autoscale MIN:MAX")
    if args.replicas is not None and args.autoscale is not None:
        raise UserError("give --replicas N or --autoscale MIN:MAX, not both")
    replicas = 1 if args.replicas is None else args.replicas
    if replicas < 1:
        raise UserError(f"--replicas must be at least 1, got {replicas}")
    try:
        autoscale = parse_autoscale(args.autoscale) if args.autoscale is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    gpus = 0.0 if args.gpus_per_replica is None else args.gpus_per_replica
    if gpus < 0:
        raise UserError(f"--gpus-per-replica must be >= 0, got {gpus:g}")
    options = {"model": args.model, "encoders": args.encoders, "encoders_format": args.encoders_format,
               "device": args.device, "decoder": args.decoder}
    if options["decoder"] is not None and args.backbone != "musicgen":
        raise UserError(f"--decoder chooses MusicGen's token decoder; backbone {args.backbone!r} has none")
    for name in ("encoders",):
        if options[name] is not None:  # replicas may run elsewhere: give them an absolute path
            options[name] = str(Path(options[name]).resolve())
    ray_options = RayOptions(replicas=replicas, autoscale=autoscale, address=args.ray_address, gpus_per_replica=gpus)
    return RayScoreServer(args.backbone, {k: v for k, v in options.items() if v is not None}, ray_options, **front)


def cmd_keys(args: argparse.Namespace) -> int:
    from motionscore.server.serving import keys

    folder = Path(args.folder)
    try:
        if args.keys_command == "init":
            public, secret = keys.init_keys(folder)
            print(f"made the server's keys in {folder}:\n  {public}  (public: give it to every client)\n"
                  f"  {secret}  (secret: stays on the server)\nserve with: motionscore serve --keys {folder} "
                  f"--bind tcp://0.0.0.0:5757\nadd a client with: motionscore keys add {folder} NAME")
        elif args.keys_command == "add":
            pair, server_public = keys.add_client(folder, args.name)
            print(f"client {args.name!r} is authorised. Give it these two files:\n  {pair}  (its key pair: keep it "
                  f"secret)\n  {server_public}  (the server's public key)\nit uses them with --client-key {pair.name} "
                  f"--server-key {server_public.name} (or $MOTIONSCORE_CLIENT_KEY / $MOTIONSCORE_SERVER_KEY, "
                  f"or the add-on's preferences)")
        elif args.keys_command == "list":
            authorised, revoked = keys.list_clients(folder)
            print(f"{folder}: {len(authorised)} authorised client(s): {', '.join(authorised) or '-'}")
            if revoked:
                print(f"  revoked: {', '.join(revoked)}")
        elif args.keys_command == "revoke":
            keys.revoke_client(folder, args.name)
            print(f"revoked {args.name!r}: a running server refuses it from its next connection")
    except keys.KeyError_ as exc:
        raise UserError(str(exc)) from None
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from motionscore.server.serving.batch import run_batch, summary_table

    try:
        results = run_batch(args.files, args.server, save=args.save, blender=args.blender, timeout=args.timeout,
                            server_key=args.server_key, client_key=args.client_key)
    except ServerError as exc:
        raise Failure(exc.message) from None
    except RuntimeError as exc:
        raise Failure(str(exc)) from None
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(summary_table(results))
    return 0 if all(r["ok"] for r in results) else EXIT_FAILED


def register(sub) -> None:
    """Add this module's commands to the top-level subparsers."""
    serve = sub.add_parser("serve", help="run the inference server",
                           description="Serve scoring requests over ZeroMQ until SIGINT/SIGTERM.")
    serve.add_argument("--bind", default=default_address(), help=f"address to bind (default {DEFAULT_ADDRESS})")
    serve.add_argument("--backbone", default="synth", help="backbone to serve (default synth)")
    serve.add_argument("--workers", type=int, default=1, help="jobs run in parallel (default 1)")
    serve.add_argument("--queue", type=int, default=64, help="most jobs waiting before 'busy' (default 64)")
    serve.add_argument("--client-timeout", type=float, default=30.0,
                       help="cancel jobs of clients silent for this many seconds (default 30)")
    serve.add_argument("--keys", default=None, metavar="DIR",
                       help="serve with CurveZMQ keys from DIR (motionscore keys init DIR); admits only DIR/clients/; "
                            "needed for any non-loopback --bind")
    serve.add_argument("--allow-remote", action="store_true",
                       help="serve a non-loopback address WITHOUT keys (unauthenticated, unencrypted; warned)")
    serve.add_argument("--engine", default="local", choices=["local", "ray"],
                       help="'local' (default): worker threads in this process; 'ray': the backbone in Ray Serve "
                            "replicas behind the same ZeroMQ front (see the README's 'Scaling out')")
    serve.add_argument("--replicas", type=int, default=None, metavar="N",
                       help="--engine ray: replicas of the backbone (default 1)")
    serve.add_argument("--autoscale", default=None, metavar="MIN:MAX",
                       help="--engine ray: let Ray Serve scale between MIN and MAX replicas on load")
    serve.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="--engine ray: join this Ray cluster (e.g. 10.0.0.5:6379) instead of starting a local one")
    serve.add_argument("--gpus-per-replica", type=float, default=None, metavar="G",
                       help="--engine ray: GPUs Ray reserves per replica (default 0; 1 for one GPU each, 0.5 to pack two)")
    serve.add_argument("--no-warm-up", action="store_true",
                       help="skip the short warm-up take before serving (the first request then pays for it)")
    add_model_options(serve)
    serve.set_defaults(func=cmd_serve)
    batch = sub.add_parser("batch", help="score many .blend/.bvh shots through headless Blender",
                           description="Score shots with the add-on in headless Blender (the bpy module, or "
                                       "--blender PATH). A failed shot is reported and left as it was; the others "
                                       "go on. Needs a running server.")
    batch.add_argument("files", nargs="+", help=".blend or .bvh files")
    batch.add_argument("--server", default=default_address(), help=f"server address (default $MOTIONSCORE_SERVER "
                                                                   f"or {DEFAULT_ADDRESS})")
    batch.add_argument("--save", action="store_true",
                       help="save each .blend with its new sound strip (a .bvh always gets a new .blend beside it)")
    batch.add_argument("--blender", default=None, help="a Blender binary to use instead of the bpy module")
    batch.add_argument("--timeout", type=float, default=3600.0, help="seconds per shot before giving up")
    batch.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    add_key_options(batch)
    batch.set_defaults(func=cmd_batch)
    keys_parser = sub.add_parser("keys", help="CurveZMQ keys for serving other machines",
                                 description="Make and manage the key folder of `motionscore serve --keys DIR`.")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    for action, text in (("init", "make the server's key pair and DIR/clients/"),
                         ("add", "issue a client key pair and authorise it"),
                         ("list", "list authorised and revoked clients"),
                         ("revoke", "stop admitting a client (from its next connection)")):
        p = keys_sub.add_parser(action, help=text)
        p.add_argument("folder", metavar="DIR", help="the key folder")
        if action in ("add", "revoke"):
            p.add_argument("name", metavar="NAME", help="the client's name (letters, digits, . _ -)")
        p.set_defaults(func=cmd_keys)
