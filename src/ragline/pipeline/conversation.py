"""Follow-up questions: a turn of a conversation rewritten as a question that stands alone.

"And in 2050?" retrieves nothing useful by itself; after "What was the median age in 2020?" it
means "What was the median age in 2050?". Retrieval (and the extractive answer, which ranks
sentences by the question's words) needs that standalone question. A chat model rewrites it when
one is configured; otherwise, or when the model fails, `condense_by_rules` does, deterministically.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ragline.domain import GenerationFailed
from ragline.pipeline.answer import Generate

logger = logging.getLogger(__name__)

Turns = Sequence[tuple[str, str]]

# "and ...", "what about ...", "how about ...": the rest of the turn replaces part of the last question.
_FOLLOW_UP = re.compile(r"^\s*(?:and|but|or|also|then)?\s*(?:what|how)?\s*(?:about|of)?\b\s*(?P<rest>.*?)[\s?.!]*$", re.IGNORECASE)
_LEAD = re.compile(r"^\s*(?:and|but|or|also|then|what about|how about|and what about|and how about|what of)\b", re.IGNORECASE)
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred first second third "
    "fourth fifth".split()
)
_NUMBER = re.compile(r"\b(?:\d[\d,.]*%?|" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
# Words that point back at something named earlier in the conversation.
_REFERRING = frozenset("it its they them their theirs there that this these those he him his she her".split())
# Fewer words than this cannot carry a question of their own; one that opens as a question does ("Who wrote Emma?")
# with one word less.
MIN_STANDALONE_WORDS = 4
_INTERROGATIVES = frozenset("who whom whose what when where which why how is are was were do does did can could".split())
# A model's rewrite much longer than the turn and the last question together is a ramble, not a rewrite.
MAX_REWRITE_GROWTH = 2.0

CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone question that can be understood without the conversation: "
    "keep its meaning, and take what it leaves out (the subject, a place, a year) from the earlier turns. "
    "Reply with the question only."
)


def condense_by_rules(question: str, history: Turns) -> str:
    """The question made standalone from the earlier user turns, without a model.

    Each earlier user turn is made standalone in turn, so a chain of follow-ups keeps its subject.
    A follow-up ("and ...", "what about ...", or too short to stand alone) that names a number
    replaces the last number of the previous question; one that names something else is added to
    the previous question; a question that points back ("there", "it") gets the previous question
    as context. Anything else already stands alone.

    >>> condense_by_rules("And in 2050?", [("user", "What was the median age in 2020?"), ("assistant", "31 years [1]")])
    'What was the median age in 2050?'
    >>> condense_by_rules("And three?", [("user", "When did we reach one billion?"), ("user", "And two?")])
    'When did we reach three billion?'
    >>> condense_by_rules("Who wrote Emma?", [("user", "Who wrote Persuasion?")])
    'Who wrote Emma?'
    """
    previous = ""
    for role, text in history:
        if role == "user" and text.strip():
            previous = _condense_turn(text.strip(), previous)
    return _condense_turn(question.strip(), previous)


def _condense_turn(question: str, previous: str) -> str:
    if not previous:
        return question
    words = re.findall(r"[\w'%]+", question.lower())
    leads = bool(_LEAD.match(question))
    asks = bool(words) and words[0] in _INTERROGATIVES
    if not leads and len(words) >= MIN_STANDALONE_WORDS - asks:
        if _REFERRING.intersection(words):
            return f"{question} ({previous})"
        return question
    rest = _FOLLOW_UP.match(question).group("rest")  # type: ignore[union-attr] - the pattern matches any text
    numbers = _NUMBER.findall(rest)
    earlier = list(_NUMBER.finditer(previous))
    if numbers and earlier:
        last = earlier[-1]
        return previous[: last.start()] + numbers[-1] + previous[last.end() :]
    if not rest:
        return previous
    return f"{previous.rstrip(' ?.!')}, {rest}?"


def condense(question: str, history: Turns, generate: Generate | None = None) -> str:
    """The standalone question: the chat model's rewrite when `generate` is given and its reply is
    usable, else `condense_by_rules`. Without earlier user turns the question is already standalone."""
    if not any(role == "user" and text.strip() for role, text in history):
        return question
    fallback = condense_by_rules(question, history)
    if generate is None:
        return fallback
    conversation = "\n".join(f"{role}: {' '.join(text.split())}" for role, text in history)
    messages = [("system", CONDENSE_PROMPT), ("user", f"Conversation:\n{conversation}\n\nLast message: {question}")]
    try:
        rewrite = " ".join("".join(generate(messages)).split()).strip('"')
    except GenerationFailed as exc:
        logger.warning("condensing by the chat model failed, using the rules reason=%s", exc.reason)
        return fallback
    if not rewrite or len(rewrite) > MAX_REWRITE_GROWTH * (len(question) + len(fallback)):
        logger.warning("the chat model's rewrite is unusable, using the rules chars=%s", len(rewrite))
        return fallback
    return rewrite
