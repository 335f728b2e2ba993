"""The coordination rules as pure functions: a dependency's RAG read with what it links."""

from __future__ import annotations

from datetime import date

from services.workspace.models import Rag
from services.workspace.raid.models import DependencyStatus
from services.workspace.raid.rules import DependencyLinks, dependency_rag

TODAY = date(2027, 3, 1)
NEED_BY = date(2027, 4, 1)


def test_a_dependency_with_a_cancelled_project_on_a_side_is_red_until_settled() -> None:
    cancelled = DependencyLinks(side_cancelled=True)
    agreed = DependencyStatus.AGREED
    assert dependency_rag(agreed, NEED_BY, date(2027, 3, 1), TODAY) is Rag.GREEN
    assert dependency_rag(agreed, NEED_BY, date(2027, 3, 1), TODAY, cancelled) is Rag.RED
    assert dependency_rag(agreed, None, None, TODAY, cancelled) is Rag.RED
    # Settled either way, it says so.
    assert dependency_rag(DependencyStatus.DELIVERED, NEED_BY, None, TODAY, cancelled) is Rag.GREEN
    assert dependency_rag(DependencyStatus.CANCELLED, NEED_BY, None, TODAY, cancelled) is None
