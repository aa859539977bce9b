"""The same stack on Docker Swarm: rendered from the Compose files, then deployed."""
