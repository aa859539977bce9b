"""Backups of both databases and GlitchTip's uploads: take, restore, and the backup service's schedule."""
