"""propdesk scheduler layer."""
