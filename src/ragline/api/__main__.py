"""python -m ragline.api: the API under uvicorn, with the request bounds of ragline.api.server."""

from ragline.api.server import main

main()
