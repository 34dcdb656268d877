"""The one small interface every search provider implements."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class SearchResult(BaseModel):
    """One hit as the retrieval engine sees it; `text` stays inside the activity."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    location: str
    provider: str
    text: str
    score: float
    document: str = ""  # the file (relative to its corpus) or the URL: one Sources entry each
    anchor: str = ""  # where in the document: section, page, slide, sheet


class SearchProvider(Protocol):
    name: str

    async def search(self, query: str, k: int) -> list[SearchResult]: ...
