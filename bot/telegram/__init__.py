"""The Telegram transport (python-telegram-bot)."""
