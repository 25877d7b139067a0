"""Complaints (投诉) and suggestions (R30–R35): tables, rules and queries."""
