"""The WeChat Official Account channel (wechatpy): webhook, numbered menus, delivery, token."""
