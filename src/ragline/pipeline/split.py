"""Split page texts into overlapping chunks that never cross a page, so every chunk cites one page.

Markdown tables (written by the readers for every table they find) are cut between rows, never inside
one, and each piece repeats the table's header row.
"""

from __future__ import annotations

from collections.abc import Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ragline.domain import Chunk, PageText
from ragline.pipeline.tables import blocks, table_pieces

LINE_SEPARATORS = ["\n", " ", ""]


def split_pages(pages: Iterable[PageText], chunk_size: int = 1000, chunk_overlap: int = 150) -> list[Chunk]:
    """Split each page with LangChain's RecursiveCharacterTextSplitter; `index` counts chunks within a page.

    >>> split_pages([PageText(page=1, text="Hello world.")])
    [Chunk(page=1, index=0, text='Hello world.', location='')]
    """
    # Lines, not paragraphs, are where a chunk may end: cutting at every blank line (the splitter's
    # default first choice) leaves many short chunks, 15% more on the sample novel, each one more to
    # embed. The separators stay inside the chunks (keep_separator), so an answer still sees the blocks.
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, separators=LINE_SEPARATORS)
    chunks: list[Chunk] = []
    for page in pages:
        pieces: list[str] = []
        for block in blocks(page.text):
            block_pieces = table_pieces(block, chunk_size) if block.is_table else splitter.split_text(block.text)
            # A short run of prose (a heading, a caption) goes with the table after it, or a table with
            # the prose after it, when both fit in one chunk.
            if pieces and block_pieces and len(pieces[-1]) + 2 + len(block_pieces[0]) <= chunk_size:
                block_pieces[0] = pieces.pop() + "\n\n" + block_pieces[0]
            pieces += block_pieces
        chunks.extend(Chunk(page=page.page, index=index, text=text, location=page.location) for index, text in enumerate(pieces))
    return chunks
