"""An environment's configuration: its env-file layers, generated secrets, the release layer, the jobs' schedules."""
