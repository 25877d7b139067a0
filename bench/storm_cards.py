"""How long a storm's job cards take to reach the staff group (issue 15.3): the real bot (PTB
over loopback HTTP, the outbox sender with Telegram's 20-a-minute group limit, SQLite)
against the fake Bot API. Orders arrive at a steady rate and post their cards as a submitted
repair does (handlers.jobs.queue_job_card, one transaction each); prints how many group
messages carried them and the wait from an order to its card reaching the group.

    .venv/bin/python bench/storm_cards.py                      # 100 orders in 30 s, batch 5
    .venv/bin/python bench/storm_cards.py --orders 200 --seconds 60 --batch 1
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from handlers.jobs import queue_job_card
from store.migrate import upgrade
from store.models import Order, OutboxMessage
from store.people import add_person
from tests.fake_telegram import FakeTelegram
from tests.harness import MONDAY_MORNING, FakeClock, drain, seed_examples, start_bot


async def run(orders: int, seconds: float, batch: int) -> dict[str, float | int]:
    """Post `orders` cards evenly over `seconds`; the figures of their delivery."""
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram() as fake:
        url = f"sqlite:///{Path(tmp) / 'storm.db'}"
        upgrade(url)
        clock = FakeClock(MONDAY_MORNING)
        bot = await start_bot(
            fake,
            url,
            clock,
            telegram_group_per_minute=20.0,
            job_card_batch=batch,
            outbox_poll_seconds=0.2,
        )
        try:
            seed_examples(bot.services)
            db, desk = bot.services.db, bot.services.desk
            with db.unit_of_work() as uow:
                owner = add_person(
                    uow.session, channel="telegram", external_id="9", name="Owner", language="en"
                )
                uow.commit()
                owner_id = owner.id
            made: dict[int, float] = {}
            started = time.monotonic()
            for n in range(orders):
                await asyncio.sleep(max(0.0, started + n * seconds / orders - time.monotonic()))
                with db.unit_of_work() as uow:
                    order = Order(
                        number=f"R-20261123-{n + 1:04d}",
                        owner_id=owner_id,
                        location="public",
                        category="plumbing",
                        description=f"burst pipe {n + 1}",
                        contact_phone="+8613900001111",
                        quote_kind="free",
                        status="submitted",
                        department="engineering",
                        urgent=True,
                        created_at=clock(),
                    )
                    uow.session.add(order)
                    uow.session.flush()
                    queue_job_card(uow.session, desk, order)
                    uow.commit()
                    made[order.id] = clock().timestamp()
                bot.desk.sender.notify()
            await drain(bot, timeout=3600)
            total = time.monotonic() - started
            with db.unit_of_work() as uow:
                rows = uow.session.execute(
                    select(Order.id, OutboxMessage.id, OutboxMessage.sent_at).join(
                        OutboxMessage, OutboxMessage.id == Order.card_outbox_id
                    )
                ).all()
        finally:
            await bot.stop()
    waits = sorted(sent.timestamp() - made[order_id] for order_id, _row, sent in rows if sent)
    messages = len({row for _order, row, _sent in rows})
    return {
        "orders": orders,
        "seconds_of_arrivals": seconds,
        "batch": batch,
        "group_messages": messages,
        "orders_per_message": round(orders / messages, 2),
        "wait_p50_s": round(statistics.median(waits), 1),
        "wait_p99_s": round(waits[int(0.99 * (len(waits) - 1))], 1),
        "wait_max_s": round(waits[-1], 1),
        "last_card_after_s": round(total, 1),
    }


def main() -> None:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    figures = asyncio.run(run(args.orders, args.seconds, args.batch))
    for key, value in figures.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
