"""The presenter on CPU: a portrait (or the built-in character) speaking the narration."""
