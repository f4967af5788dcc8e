from __future__ import annotations

import pytest
from django.db import IntegrityError
from pytest_django import DjangoAssertNumQueries

from firstcall.triage.load import load_matrix
from firstcall.triage.matrix import DEFAULT_CELLS, DEFAULT_MATRIX, Impact, Matrix, Urgency, urgency_step_up
from firstcall.triage.models import MatrixCell
from firstcall.triage.priority import Priority

C, T, P = Impact.COMPANY, Impact.TEAM, Impact.PERSON


@pytest.mark.parametrize(
    ("impact", "row"),
    [(C, "P1 P1 P2 P3"), (T, "P1 P2 P3 P3"), (P, "P1 P2 P3 P4")],
)
def test_default_matrix_rows_for_critical_high_medium_low(impact: Impact, row: str) -> None:
    columns = (Urgency.CRITICAL, Urgency.HIGH, Urgency.MEDIUM, Urgency.LOW)
    assert " ".join(DEFAULT_MATRIX.priority(impact, urgency) for urgency in columns) == row


def test_a_custom_cell_changes_only_that_cell() -> None:
    matrix = Matrix({(T, Urgency.HIGH): Priority.P1})
    assert matrix.priority(T, Urgency.HIGH) == Priority.P1
    assert matrix.priority(P, Urgency.HIGH) == Priority.P2
    assert matrix.differs_from_default()
    assert not DEFAULT_MATRIX.differs_from_default()


def test_urgency_steps_up_and_stops_at_critical() -> None:
    assert urgency_step_up(Urgency.LOW) == Urgency.MEDIUM
    assert urgency_step_up(Urgency.MEDIUM) == Urgency.HIGH
    assert urgency_step_up(Urgency.HIGH) == Urgency.CRITICAL
    assert urgency_step_up(Urgency.CRITICAL) == Urgency.CRITICAL


@pytest.mark.django_db
def test_the_migration_seeds_the_default_matrix_and_load_matrix_reads_it_in_one_query(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    assert MatrixCell.objects.count() == 12
    with django_assert_num_queries(1):
        matrix = load_matrix()
    assert dict(matrix.cells) == dict(DEFAULT_CELLS)


@pytest.mark.django_db
def test_a_stored_cell_is_used_and_a_missing_cell_falls_back_to_the_default() -> None:
    MatrixCell.objects.filter(impact=T, urgency=Urgency.HIGH).update(priority=Priority.P1)
    MatrixCell.objects.filter(impact=P, urgency=Urgency.LOW).delete()
    matrix = load_matrix()
    assert matrix.priority(T, Urgency.HIGH) == Priority.P1
    assert matrix.priority(P, Urgency.LOW) == Priority.P4


@pytest.mark.django_db
def test_one_priority_per_cell() -> None:
    with pytest.raises(IntegrityError):
        MatrixCell.objects.create(impact=C, urgency=Urgency.LOW, priority=Priority.P4)


@pytest.mark.django_db
def test_a_cell_outside_the_choices_is_refused_by_the_database() -> None:
    with pytest.raises(IntegrityError):
        MatrixCell.objects.create(impact="galaxy", urgency=Urgency.LOW, priority=Priority.P4)
