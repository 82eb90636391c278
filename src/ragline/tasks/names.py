"""Queue and task names: the API sends tasks by these names without importing any worker code."""

INGEST_QUEUE = "ingest"
QUERY_QUEUE = "query"
DEFAULT_QUEUE = "default"
QUEUES = (INGEST_QUEUE, QUERY_QUEUE, DEFAULT_QUEUE)

# The seed's names, kept so its scripts and Flower views still recognise them.
PDF_READER_TASK = "pdf_reader_task"
TEXT_SPLITTER_TASK = "text_splitter_task"
VECTORSTORE_TASK = "vectorstore_task"
# A document with many pages to OCR is read in page ranges over the ingest processes, then gathered.
READ_PART_TASK = "read_part_task"
GATHER_PAGES_TASK = "gather_pages_task"
PURGE_DOCUMENT_TASK = "purge_document_task"
# A long document's vectorstore step fans out: one task per page range, then one that finishes the job.
INDEX_PART_TASK = "index_part_task"
FINISH_INGEST_TASK = "finish_ingest_task"
# Fills a collection from an uploaded archive; runs on the ingest workers (no model needed, but they
# share the blob store and the vector store with the API).
IMPORT_ARCHIVE_TASK = "import_archive_task"
# Once per deployment: lexical segments for documents indexed before segments existed.
BACKFILL_LEXICAL_TASK = "backfill_lexical_task"
QUERY_TASK = "query_task"
ADD_NUMBERS_TASK = "add_numbers"
DIVIDE_NUMBERS_TASK = "divide_numbers"

# Tasks whose arguments are ids and counts only, shown as they are in Flower and task events; every
# other task's arguments (a question, chat history, a collection name) are shown as '<redacted>'.
OPAQUE_ARGUMENT_TASKS = frozenset(
    {PDF_READER_TASK, TEXT_SPLITTER_TASK, VECTORSTORE_TASK, INDEX_PART_TASK, FINISH_INGEST_TASK,
     READ_PART_TASK, GATHER_PAGES_TASK, IMPORT_ARCHIVE_TASK, BACKFILL_LEXICAL_TASK, ADD_NUMBERS_TASK, DIVIDE_NUMBERS_TASK}
)

TASK_QUEUES = {
    PDF_READER_TASK: INGEST_QUEUE,
    TEXT_SPLITTER_TASK: INGEST_QUEUE,
    VECTORSTORE_TASK: INGEST_QUEUE,
    READ_PART_TASK: INGEST_QUEUE,
    GATHER_PAGES_TASK: INGEST_QUEUE,
    PURGE_DOCUMENT_TASK: INGEST_QUEUE,
    INDEX_PART_TASK: INGEST_QUEUE,
    FINISH_INGEST_TASK: INGEST_QUEUE,
    IMPORT_ARCHIVE_TASK: INGEST_QUEUE,
    BACKFILL_LEXICAL_TASK: INGEST_QUEUE,
    QUERY_TASK: QUERY_QUEUE,
    ADD_NUMBERS_TASK: DEFAULT_QUEUE,
    DIVIDE_NUMBERS_TASK: DEFAULT_QUEUE,
}


def tasks_on(queue: str) -> tuple[str, ...]:
    """The names of the tasks sent to `queue`."""
    return tuple(task for task, task_queue in TASK_QUEUES.items() if task_queue == queue)
