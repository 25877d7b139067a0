"""propdesk bot layer."""
