"""Member state outside the engine: its changelog encoding and the store that holds it."""
