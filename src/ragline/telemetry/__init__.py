"""Tracing, metrics and logs of every ragline process, set up in one place.

- `api.install_api_telemetry(app, ...)`: the API process (one call in the app factory).
- `worker.install_worker_telemetry(queue, tasks)` at import of a worker module, and
  `worker.setup_worker_process(queue)` from its `worker_process_init` handler.
- `instruments`: a span and a metric together, for ingest stages, Chroma and model calls, caches.
- `tracing`, `metrics`, `logs`: the OpenTelemetry, Prometheus and logging parts underneath.
"""
