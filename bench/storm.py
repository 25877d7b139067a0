"""Owners' reply latency while the staff group is busy (issue 15.1): the real bot (PTB over
loopback HTTP, the outbox sender, SQLite or PostgreSQL) against the fake Bot API, with
Telegram's limits on (1/s per private chat, 20/min per group, 30/s overall).

A storm's job cards wait for the staff group; meanwhile owners write (closed loop: each
waits for its answer, then writes again). Prints p50/p99/max of the time from an owner's
message to the bot's answer, and how many cards reached the group meanwhile.

    .venv/bin/python bench/storm.py                          # SQLite in a temp folder
    .venv/bin/python bench/storm.py --owners 40 --rounds 5 --cards 60
    .venv/bin/python bench/storm.py --url postgresql+psycopg://...
    .venv/bin/python bench/storm.py --postgres              # a throw-away cluster

It uses only tests.harness and tests.fake_telegram, so the same file also measures an older
checkout: `PYTHONPATH=/path/to/old .venv/bin/python bench/storm.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: see above

from handlers.messages import Button, Outbound
from store.models import OutboxMessage
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import MONDAY_MORNING, STAFF_GROUP, FakeClock, start_bot

LIMITS = {
    "telegram_chat_per_second": 1.0,
    "telegram_group_per_minute": 20.0,
    "telegram_overall_per_second": 30.0,
    "outbox_poll_seconds": 0.2,
}


def _answers(fake: FakeTelegram, chat_id: int) -> int:
    return sum(
        1
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) == str(chat_id)
    )


async def _owner(fake: FakeTelegram, user: TgUser, rounds: int, timeout: float) -> list[float]:
    """Write /help, wait for the answer, again; the seconds each answer took."""
    took: list[float] = []
    for _ in range(rounds):
        before = _answers(fake, user.id)
        sent = time.monotonic()
        fake.user_text(user, "/help")
        while _answers(fake, user.id) <= before:
            if time.monotonic() - sent > timeout:
                took.append(float("inf"))
                break
            await asyncio.sleep(0.01)
        else:
            took.append(time.monotonic() - sent)
    return took


async def storm(
    url: str, owners: int, rounds: int, cards: int, timeout: float
) -> dict[str, float | int | bool | None]:
    """Run the storm once, print the figures and return them."""
    with FakeTelegram() as fake:
        bot = await start_bot(fake, url, FakeClock(MONDAY_MORNING), **LIMITS)
        try:
            with bot.services.db.unit_of_work() as uow:
                for i in range(cards):
                    card = Outbound(
                        str(STAFF_GROUP), f"R-{i:04d}", [[Button("Claim", f"o|claim|{i}")]]
                    )
                    uow.session.add(
                        OutboxMessage(
                            channel="telegram", chat_id=str(STAFF_GROUP), payload=card.to_payload()
                        )
                    )
                uow.commit()
            bot.desk.sender.notify()
            await asyncio.sleep(0.5)  # the group is busy before the owners come
            started = time.monotonic()
            users = [TgUser(20_000 + i, f"Owner {i}", "en") for i in range(owners)]
            results = await asyncio.gather(*(_owner(fake, u, rounds, timeout) for u in users))
            elapsed = time.monotonic() - started
            group = _answers(fake, STAFF_GROUP)
        finally:
            await bot.stop()
    took = sorted(t for r in results for t in r)
    done = [t for t in took if t != float("inf")]
    p = statistics.quantiles(done, n=100) if len(done) > 1 else done * 99
    print(f"owners {owners} x {rounds} answers, {cards} cards queued for the staff group")
    print(f"  answered      {len(done)} of {len(took)} (timeout {timeout:.0f} s)")
    if done:
        print(f"  reply p50     {p[49]:.2f} s")
        print(f"  reply p99     {p[98]:.2f} s")
        print(f"  reply max     {max(done):.2f} s")
    print(f"  run           {elapsed:.1f} s; cards in the group meanwhile: {group}")
    return {
        "owners": owners,
        "rounds": rounds,
        "cards": cards,
        "answered": len(done),
        "p50_s": p[49] if done else None,
        "p99_s": p[98] if done else None,
        "max_s": max(done) if done else None,
        "run_s": elapsed,
        "cards_meanwhile": group,
        "ok": len(done) == len(took),  # every owner answered, none lost
    }


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: SQLite in a temp folder)")
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=180.0, help="per answer, seconds")
    args = parser.parse_args()
    if args.postgres:  # a throw-away cluster from the machine's binaries, as the tests use
        from tests.pgserver import ThrowawayPostgres

        server = ThrowawayPostgres()
        server.start()
        try:
            url = server.create_database("storm")
            asyncio.run(storm(url, args.owners, args.rounds, args.cards, args.timeout))
        finally:
            server.stop()
        return 0
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{folder}/storm.db"
        asyncio.run(storm(url, args.owners, args.rounds, args.cards, args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
