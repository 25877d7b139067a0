"""The WeCom (企业微信) self-built app channel: staff cards, alerts and reports."""
