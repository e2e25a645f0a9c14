"""`models pull|list`: backbone weights in the Hugging Face cache."""

from __future__ import annotations

import argparse
import json
import sys


from .common import Failure, UserError


def cmd_models_pull(args: argparse.Namespace) -> int:
    """Download a backbone's weights into the Hugging Face cache, with progress, and check them."""
    from motionscore.server.model import weights

    report = None
    if args.progress == "json":  # one JSON line per update, for the add-on's preferences
        def report(stage: str, done: int, total: int) -> None:
            print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)
    try:
        pulled = weights.pull(args.backbone, args.model, report=report,
                              log=lambda text: print(text, file=sys.stderr))
    except weights.WeightsError as exc:
        raise (UserError if exc.bad_input else Failure)(str(exc)) from None
    for item in pulled:
        print(f"{item.repo_id}: {item.files} files, {weights.size_text(item.bytes)}, checked "
              f"(revision {item.revision[:12]}) in {item.folder}", file=sys.stderr)
    print(f"ready: motionscore serve --backbone {args.backbone}"
          + (f" --model {args.model}" if args.model else ""), file=sys.stderr)
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    """What the Hugging Face cache holds, its size, and which backbone uses it."""
    from motionscore.server.model import weights

    cached = weights.list_cached()
    if args.json:
        print(json.dumps([vars(c) for c in cached], indent=2))
        return 0
    print(f"cache: {weights.cache_dir()}")
    if not cached:
        print("  (empty: motionscore models pull BACKBONE fetches one)")
    for c in cached:
        state = "complete" if c.complete else "not pulled by motionscore or incomplete: pull again"
        print(f"  {c.repo_id:40s} {weights.size_text(c.bytes):>9s}  {', '.join(c.used_by) or '-':12s} {state}")
    return 0


def register(sub) -> None:
    """Add this module's commands to the top-level subparsers."""
    models = sub.add_parser("models", help="backbone weights in the Hugging Face cache",
                            description="Fetch ML backbones' weights once (takes never download) and see what is "
                                        "cached. The hub is $HF_ENDPOINT, the cache $HF_HUB_CACHE or $HF_HOME/hub.")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    pull = models_sub.add_parser("pull", help="download a backbone's weights and what it needs, then check them")
    pull.add_argument("backbone", help="musicgen (with t5-base), riffusion, audioldm or stableaudio")
    pull.add_argument("--model", default=None, help="another hub id for the backbone's model "
                                                    "(e.g. facebook/musicgen-medium)")
    pull.add_argument("--progress", choices=["bar", "json"], default="bar",
                      help="progress bars on stderr (default), or JSON lines on stdout")
    pull.set_defaults(func=cmd_models_pull)
    listing = models_sub.add_parser("list", help="the cached models, their size and which backbone uses them")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_models_list)
