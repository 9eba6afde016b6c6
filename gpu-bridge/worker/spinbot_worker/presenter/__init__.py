"""The presenter on CPU: a portrait (or the built-in character) speaking the narration."""

LAYOUTS = ("full", "corner")  # the presenter fills the frame / stands cut out in a corner of the scene's picture
