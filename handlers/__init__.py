"""propdesk handlers layer."""
