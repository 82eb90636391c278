"""The contract between the API and the workers: queue and task names, the shared Celery
configuration, and how work is sent. The API imports this package, never a worker module."""
