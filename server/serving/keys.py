"""CurveZMQ keys for serving beyond this computer: the server's key pair and its authorised clients.

A key folder, in pyzmq's certificate format so that standard tools read it::

    DIR/server.key            the server's public key (give it to every client)
    DIR/server.key_secret     the server's key pair (secret, mode 0600, never leaves the server)
    DIR/clients/NAME.key      public keys of the authorised clients (the server admits these only)
    DIR/issued/NAME.key       a client's public key, as issued
    DIR/issued/NAME.key_secret  a client's key pair (secret, 0600): give it to that client only
    DIR/revoked/NAME.key      revoked clients' public keys (kept so you can see who was revoked)

``motionscore keys init|add|list|revoke`` manage it; ``motionscore serve --keys DIR`` serves with
CurveZMQ (encrypted, authenticated) and a ZAP authenticator over ``DIR/clients``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

SERVER = "server"
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeyError_(ValueError):
    """A key folder or key file that cannot be used; the message says what to do."""


def _require_curve() -> None:
    import zmq

    if not zmq.has("curve"):
        raise KeyError_("this pyzmq has no CurveZMQ support (libzmq built without libsodium/tweetnacl)")


def _secure(path: Path) -> None:
    os.chmod(path, 0o600)


def _new_pair(folder: Path, name: str) -> tuple[Path, Path]:
    import zmq.auth

    folder.mkdir(parents=True, exist_ok=True)
    public, secret = (Path(p) for p in zmq.auth.create_certificates(str(folder), name))
    _secure(secret)
    return public, secret


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or "") or name == SERVER:
        raise KeyError_(f"client name {name!r}: use letters, digits, '.', '_' or '-' (at most 64), not 'server'")
    return name


def init_keys(folder: Path) -> tuple[Path, Path]:
    """Create the server's key pair and ``clients/``; refuses a folder that already has a server key."""
    _require_curve()
    folder = Path(folder)
    if (folder / f"{SERVER}{SECRET_SUFFIX}").exists() or (folder / f"{SERVER}{PUBLIC_SUFFIX}").exists():
        raise KeyError_(f"{folder} already holds a server key pair; nothing was changed")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    public, secret = _new_pair(folder, SERVER)
    for sub in ("clients", "issued", "revoked"):
        (folder / sub).mkdir(exist_ok=True)
    return public, secret


def _check_folder(folder: Path) -> Path:
    folder = Path(folder)
    if not (folder / f"{SERVER}{SECRET_SUFFIX}").is_file() or not (folder / "clients").is_dir():
        raise KeyError_(f"{folder} is not a key folder: make one with `motionscore keys init {folder}`")
    return folder


def add_client(folder: Path, name: str) -> tuple[Path, Path]:
    """Issue a key pair for client ``name`` and authorise it. Returns (its key pair file, server.key)."""
    _require_curve()
    folder = _check_folder(folder)
    check_name(name)
    if (folder / "clients" / f"{name}{PUBLIC_SUFFIX}").exists() or (folder / "issued" / f"{name}{SECRET_SUFFIX}").exists():
        raise KeyError_(f"a client named {name!r} already exists in {folder}; pick another name or revoke it first")
    public, secret = _new_pair(folder / "issued", name)
    shutil.copyfile(public, folder / "clients" / f"{name}{PUBLIC_SUFFIX}")
    return secret, folder / f"{SERVER}{PUBLIC_SUFFIX}"


def list_clients(folder: Path) -> tuple[list[str], list[str]]:
    """(authorised client names, revoked client names), sorted."""
    folder = _check_folder(folder)
    names = lambda sub: sorted(p.name[:-len(PUBLIC_SUFFIX)] for p in (folder / sub).glob(f"*{PUBLIC_SUFFIX}"))  # noqa: E731
    return names("clients"), names("revoked") if (folder / "revoked").is_dir() else []


def revoke_client(folder: Path, name: str) -> Path:
    """Stop admitting ``name``: its public key moves from clients/ to revoked/."""
    folder = _check_folder(folder)
    check_name(name)
    current = folder / "clients" / f"{name}{PUBLIC_SUFFIX}"
    if not current.is_file():
        raise KeyError_(f"no authorised client named {name!r} in {folder} (see `motionscore keys list {folder}`)")
    (folder / "revoked").mkdir(exist_ok=True)
    target = folder / "revoked" / f"{name}{PUBLIC_SUFFIX}"
    os.replace(current, target)
    return target


def server_keys(folder: Path) -> tuple[bytes, bytes, Path]:
    """(public key, secret key, clients folder) for ``serve --keys``."""
    import zmq.auth

    _require_curve()
    folder = _check_folder(folder)
    try:
        public, secret = zmq.auth.load_certificate(str(folder / f"{SERVER}{SECRET_SUFFIX}"))
    except (OSError, ValueError) as exc:
        raise KeyError_(f"{folder / (SERVER + SECRET_SUFFIX)}: not a key pair ({exc})") from None
    if not secret:
        raise KeyError_(f"{folder / (SERVER + SECRET_SUFFIX)} holds no secret key")
    return public, secret, folder / "clients"


def clients_signature(clients: Path) -> tuple:
    """What changes when a client is added or revoked (names, sizes, modification times)."""
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in clients.glob(f"*{PUBLIC_SUFFIX}")))
    except OSError:
        return ()
