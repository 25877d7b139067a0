"""Complaints (投诉) and suggestions (R30–R35): the owner's intake (intake), the staff's
handling (staff), the complainant's side and the relay (owner), timers (effects), and the one
entry point for their buttons and commands (entry)."""
