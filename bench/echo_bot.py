"""The framework floor (issue 15.5): a bare python-telegram-bot echo bot, PTB's defaults, long
polling the Bot API named by PROPDESK_TELEGRAM_API_BASE_URL. A message gets its text (or the
shared phone number) back with one button; a press is answered and its data sent back, so
each update costs one reply as in propdesk's turns. Run by bench/versus.py side by side with
`propdesk run` under the same load.

    TELEGRAM_BOT_TOKEN=1:X PROPDESK_TELEGRAM_API_BASE_URL=http://... python bench/echo_bot.py
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

AGAIN = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the message's text (or shared phone number) back to its chat."""
    message = update.effective_message
    if message is None:
        return
    text = message.text or (message.contact.phone_number if message.contact else "?")
    await context.bot.send_message(message.chat_id, text, reply_markup=AGAIN)


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the button press and send its data back."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    await query.answer()
    await context.bot.send_message(query.message.chat.id, query.data or "?", reply_markup=AGAIN)


def main() -> None:
    """Build the bare application and poll until SIGTERM."""
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["PROPDESK_TELEGRAM_API_BASE_URL"])
        .base_file_url(os.environ["PROPDESK_TELEGRAM_FILE_BASE_URL"])
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(press))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
