"""Sidebar panels (draw only) and the operators behind their buttons."""
