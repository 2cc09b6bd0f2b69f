"""Basics every room uses: settings, how instants read for people, secrets at rest, the clock.

Imports nothing of Slotwise: only the standard library and third-party packages.
"""
