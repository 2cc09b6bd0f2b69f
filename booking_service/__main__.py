"""``python -m booking_service`` is the ``slotwise`` command."""

from .cli import main

main(prog_name="slotwise")
