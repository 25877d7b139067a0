"""propdesk store layer."""
