"""propdesk bot layer."""

import sys
import types


def _skip_unused_imports() -> None:
    """Start-up (issue 15): two imports the bot never uses are kept from happening, before
    anything imports httpx or PTB. httpx imports its command-line client on import, which
    pulls in click, rich and pygments where they are installed (~0.2 s, more on a busy
    machine); PTB's Updater imports its tornado webhook server, but updates come from
    bot.telegram.polling and webhooks from bot.web (~0.1 s). A `None` in sys.modules makes
    that import fail as if tornado were absent, which PTB handles (WEBHOOKS_AVAILABLE)."""
    if "httpx" not in sys.modules:
        cli = types.ModuleType("httpx._main")

        def main() -> None:
            raise SystemExit("the httpx command line client is not loaded by propdesk")

        cli.main = main  # type: ignore[attr-defined]
        sys.modules.setdefault("httpx._main", cli)
    if "telegram.ext" not in sys.modules:
        sys.modules.setdefault("telegram.ext._utils.webhookhandler", None)  # type: ignore[arg-type]


_skip_unused_imports()
