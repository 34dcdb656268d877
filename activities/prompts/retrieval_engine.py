"""retrieval_engine: answer one search question from retrieved passages, citing them (A_t)."""

from __future__ import annotations

import re

from activities.llm import ChatMessage
from activities.prompts._claims import ClaimsAnswer
from activities.prompts._common import UNTRUSTED_NOTE
from workflows.models import RetrievalInput


class RetrievalAnswer(ClaimsAnswer):
    """The answer as claims, each citing the numbers of the documents that support it."""


SYSTEM = (
    "You answer a search question using only the numbered documents given. Write the answer as "
    "a list of claims: each claim states one point in a sentence or two, close to the wording "
    "of the document it comes from, and lists the numbers of the documents that support it. "
    "Claim only what a document says; if the documents do not answer the question, say so in "
    "one claim citing the closest document. Be concise and factual. " + UNTRUSTED_NOTE
)


def document_block(number: int, title: str, location: str, text: str) -> str:
    """Retrieved (untrusted) text between delimiters it cannot forge: a page that writes
    `</document>` or a title with quotes cannot end the block and pose as instructions."""
    header = f'<document number="{number}" title="{_attr(title)}" location="{_attr(location)}">'
    return f"{header}\n{_body(text)}\n</document>"


def _attr(value: str) -> str:
    return " ".join(value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").split())


def _body(text: str) -> str:
    return re.sub(r"<(/?)document", r"&lt;\1document", text, flags=re.IGNORECASE)


def messages(inp: RetrievalInput, documents: list[str]) -> list[ChatMessage]:
    docs = "\n\n".join(documents) if documents else "(no documents were found)"
    return [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(
            role="user",
            content=(
                f"Overall research question (context): {inp.question}\n\n"
                f"Search question to answer: {inp.search_question}\n\n{docs}"
            ),
        ),
    ]
