"""Loading policy configuration from files (the schedule CSV) into domain settings."""
