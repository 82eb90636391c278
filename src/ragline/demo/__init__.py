"""The sample document `ragline demo` ingests, shipped inside the package so an installed wheel can run
the demo: `importlib.resources.files("ragline.demo") / DEMO_PDF`. Its source and licence: NOTICE.md."""

DEMO_PDF = "world_population_wikipedia.pdf"
DEMO_QUESTION = "What is the median age of human beings?"
