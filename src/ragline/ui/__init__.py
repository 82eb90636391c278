"""The Gradio UI. Gradio reads this before it is imported: it must not phone home."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
