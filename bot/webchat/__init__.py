"""The web chat channel: a browser page beside Telegram and WeChat, and the no-token sandbox."""
