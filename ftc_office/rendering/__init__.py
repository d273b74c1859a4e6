"""Rendering engine: strict sandboxed Jinja environments and Word (docxtpl)."""
