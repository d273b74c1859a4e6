"""Rendering: strict Jinja environments for email and notes, docxtpl for Word, xlsx tables."""
