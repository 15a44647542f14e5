"""Generated parts of the docs (`make docs`): the README's settings table, from app/settings.py."""
