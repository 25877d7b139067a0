"""The `propdesk sandbox` command's arguments, apart from the sandbox itself: building the
CLI's parser (which every command does, `propdesk run` too) then imports neither starlette nor
the web chat app (~0.1-0.3 s of a start, issue 15); the sandbox is imported when it runs."""

from __future__ import annotations

import argparse
import os

DEFAULT_DATABASE = "sqlite:///var/sandbox.db"


def add_sandbox_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `propdesk sandbox` command."""
    sandbox = sub.add_parser(
        "sandbox",
        help="try the desk in a browser with no token: the example estate on 127.0.0.1",
    )
    sandbox.add_argument(
        "--listen",
        default=os.environ.get("PROPDESK_SANDBOX_LISTEN", "127.0.0.1"),
        help="address to serve on (default 127.0.0.1: this machine only)",
    )
    sandbox.add_argument(
        "--port",
        type=int,
        default=os.environ.get("PROPDESK_SANDBOX_PORT", "8765"),
        help="port (default 8765; 0: any free port)",
    )
    sandbox.add_argument(
        "--database",
        default=os.environ.get("PROPDESK_SANDBOX_DATABASE_URL", DEFAULT_DATABASE),
        help=f"the sandbox's own database (default {DEFAULT_DATABASE})",
    )
    sandbox.set_defaults(func=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    from bot.webchat.sandbox import run_sandbox

    return run_sandbox(args.listen, int(args.port), args.database)
