"""Offline checks of the deployment: chart, images, kind config, Tiltfile, compose file."""
