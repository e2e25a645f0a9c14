"""`addon build` (the Blender extension) and `farm openjd|flamenco` (job definitions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from motionscore.shared.client import DEFAULT_ADDRESS


from .common import Failure, UserError


def cmd_addon_build(args: argparse.Namespace) -> int:
    from motionscore.server.packaging.addon_build import PLATFORMS, BuildError, build

    try:
        result = build(Path(args.output), platforms=args.platform or list(PLATFORMS),
                       log=lambda text: print(text, file=sys.stderr))
    except BuildError as exc:
        raise Failure(str(exc)) from None
    print(f"built {result.zip_path} ({len(result.wheels)} wheels)")
    print(f"install: Blender > Edit > Preferences > Get Extensions > Install from Disk, or "
          f"blender --command extension install-file -r user_default -e {result.zip_path}")
    return 0


def cmd_farm(args: argparse.Namespace) -> int:
    """Export farm job definitions: an OpenJD job bundle or a Flamenco job type."""
    from motionscore.server.packaging import farm_jobs

    out = Path(args.output)
    try:
        if args.farm_command == "openjd":
            shots = Path(args.shots)
            target, listed = farm_jobs.write_openjd_bundle(out, shots, save=args.save, address=args.server,
                                                           executable=args.motionscore, force=args.force)
            count = len(listed)
            print(f"wrote {target} ({count} shot{'s' if count != 1 else ''}, one task each)")
            print(f"run locally:   {farm_jobs.openjd_run_command(out, shots.resolve(), args.server)}")
            print(f"Deadline Cloud: deadline bundle submit {out}")
        else:
            target = farm_jobs.write_flamenco_job_type(out, address=args.server, module=args.addon_module,
                                                       force=args.force)
            print(f"wrote {target}: copy it to the Flamenco Manager's scripts/ folder and restart the Manager")
            if args.shots:
                print(f"shots setting for {args.shots}: {farm_jobs.flamenco_shots_setting(Path(args.shots))}")
    except farm_jobs.FarmExportError as exc:
        raise UserError(str(exc)) from None
    return 0


def register(sub) -> None:
    """Add this module's commands to the top-level subparsers."""
    addon = sub.add_parser("addon", help="the Blender extension")
    addon_sub = addon.add_subparsers(dest="addon_command", required=True, metavar="ACTION")
    build = addon_sub.add_parser("build", help="build the installable extension zip",
                                 description="Build and validate the Blender extension zip with pyzmq, msgpack "
                                             "and mido wheels for Blender's Pythons (3.11, 3.13) and platforms.")
    build.add_argument("-o", "--output", default="dist", help="folder for the zip (default dist/)")
    build.add_argument("--platform", action="append", choices=["linux-x64", "windows-x64", "macos-arm64", "macos-x64"],
                       help="only these platforms (repeatable; default all four)")
    build.set_defaults(func=cmd_addon_build)
    farm = sub.add_parser("farm", help="job definitions for render farm managers (OpenJD/Deadline, Flamenco)")
    farm_sub = farm.add_subparsers(dest="farm_command", required=True, metavar="MANAGER")
    openjd = farm_sub.add_parser("openjd", help="an Open Job Description job bundle (AWS Deadline Cloud, openjd run)",
                                 description="Write DIR/template.yaml (jobtemplate-2023-09): one task per .blend/.bvh "
                                             "shot in --shots, each `motionscore batch SHOT --server ADDR`.")
    openjd.add_argument("-o", "--output", required=True, help="bundle folder (DIR/template.yaml)")
    openjd.add_argument("--shots", required=True, help="folder whose .blend and .bvh files become the tasks")
    openjd.add_argument("--save", action="store_true", help="save each .blend with its new strip")
    openjd.add_argument("--motionscore", default=None,
                        help="the motionscore command on the workers (default: this environment's)")
    flamenco = farm_sub.add_parser("flamenco", help="a Flamenco job type (JavaScript for the Manager's scripts/)",
                                   description="Write DIR/motionscore_score_shots.js: one blender-render task per shot, "
                                               "running the installed add-on's batch job in the worker's Blender.")
    flamenco.add_argument("-o", "--output", required=True, help="folder for the .js file")
    flamenco.add_argument("--shots", default=None, help="also print the 'shots' setting for this folder")
    flamenco.add_argument("--addon-module", default="bl_ext.user_default.motionscore",
                          help="the extension's module in the workers' Blender (default bl_ext.user_default.motionscore)")
    for command in (openjd, flamenco):
        command.add_argument("--server", default=DEFAULT_ADDRESS,
                             help="default server address of the job (a job parameter / setting)")
        command.add_argument("--force", action="store_true", help="overwrite an existing file")
        command.set_defaults(func=cmd_farm)
