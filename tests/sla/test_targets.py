"""Stored calendars and SLA targets: which targets a ticket gets (contract or default), in how many
queries, and the data migration that creates the default calendars and copies response targets."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError

from firstcall.clients.models import Client, Contract
from firstcall.sla.calendars import CalendarSpec, add_business_minutes
from firstcall.sla.models import Calendar, CalendarHours, ClosedDay, SlaTarget, load_calendar
from firstcall.sla.targets import BUSINESS_HOURS, DEFAULT_SOURCE, TWENTY_FOUR_SEVEN, targets_for
from firstcall.triage.priority import Priority

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
THANKSGIVING_2026 = date(2026, 11, 26)
FRIDAY_2026_06_19 = date(2026, 6, 19)


@pytest.fixture
def chicago_hours(db: None) -> Calendar:
    """Bright Smile Dental's support hours: weekdays 07:00–19:00 in Chicago, US holidays, and a
    closed day for the staff retreat."""
    calendar = Calendar.objects.create(name="Chicago 7–7", time_zone="America/Chicago", holiday_country="US")
    for weekday in range(5):
        CalendarHours.objects.create(calendar=calendar, weekday=weekday, opens=time(7), closes=time(19))
    ClosedDay.objects.create(calendar=calendar, date=date(2026, 6, 16), name="Staff retreat")
    return calendar


@pytest.fixture
def round_the_clock() -> Calendar:
    return Calendar.objects.get(name=TWENTY_FOUR_SEVEN)


@pytest.fixture
def gold(dental: Client, chicago_hours: Calendar, round_the_clock: Calendar) -> Contract:
    """Dental's contract (from the shared fixture), with SLA targets for P1 and P3 only."""
    contract = dental.contracts.get()
    contract.starts_on = date(2026, 1, 1)
    contract.save()
    contract.sla_targets.all().delete()  # the shared fixture's targets: these tests set their own
    SlaTarget.objects.create(
        contract=contract,
        priority=Priority.P1,
        first_response_minutes=15,
        next_update_minutes=30,
        resolution_minutes=180,
        calendar=round_the_clock,
    )
    SlaTarget.objects.create(
        contract=contract,
        priority=Priority.P3,
        first_response_minutes=120,
        next_update_minutes=None,
        resolution_minutes=1440,
        calendar=chicago_hours,
    )
    return contract


class TestTargetsFor:
    def test_a_contract_target_with_its_calendar(self, gold: Contract) -> None:
        targets = targets_for(gold.client_id, "P3", on=FRIDAY_2026_06_19)
        assert (targets.priority, targets.first_response_minutes) == (Priority.P3, 120)
        assert (targets.next_update_minutes, targets.resolution_minutes) == (None, 1440)
        assert targets.calendar_name == "Chicago 7–7"
        assert targets.source == "contract 'Managed Care Gold'"
        assert targets.calendar == CalendarSpec.business_hours(
            CHICAGO, "07:00", "19:00", holiday_country="US", closed_dates=[date(2026, 6, 16)]
        )

    def test_the_contract_calendar_drives_the_deadline(self, gold: Contract) -> None:
        targets = targets_for(gold.client_id, "P3", on=date(2026, 11, 25))
        opened = datetime(2026, 11, 25, 18, 0, tzinfo=CHICAGO)  # the day before Thanksgiving
        due = add_business_minutes(targets.calendar, opened, targets.first_response_minutes)
        assert due == datetime(2026, 11, 27, 8, 0, tzinfo=CHICAGO)

    def test_a_24x7_contract_target(self, gold: Contract) -> None:
        targets = targets_for(gold.client_id, Priority.P1, on=FRIDAY_2026_06_19)
        assert (targets.first_response_minutes, targets.next_update_minutes) == (15, 30)
        assert targets.calendar_name == TWENTY_FOUR_SEVEN
        assert targets.calendar.always_open

    def test_a_priority_the_contract_does_not_name_gets_the_default(self, gold: Contract) -> None:
        targets = targets_for(gold.client_id, "P2", on=FRIDAY_2026_06_19)
        assert targets.source == DEFAULT_SOURCE
        assert (targets.first_response_minutes, targets.next_update_minutes, targets.resolution_minutes) == (
            60,
            120,
            480,
        )
        assert targets.calendar_name == TWENTY_FOUR_SEVEN

    def test_an_expired_contract_no_longer_applies(self, gold: Contract) -> None:
        gold.ends_on = date(2026, 6, 30)
        gold.save()
        assert (
            targets_for(gold.client_id, "P3", on=date(2026, 6, 30)).source == "contract 'Managed Care Gold'"
        )
        assert targets_for(gold.client_id, "P3", on=date(2026, 7, 1)).source == DEFAULT_SOURCE

    def test_a_contract_that_has_not_started_does_not_apply(self, gold: Contract) -> None:
        assert targets_for(gold.client_id, "P3", on=date(2025, 12, 31)).source == DEFAULT_SOURCE

    def test_the_date_defaults_to_today(self, gold: Contract, settings: Any) -> None:
        gold.ends_on = date(2026, 6, 30)
        gold.save()
        settings.TIME_ZONE = "America/Chicago"
        # 2026-07-01 03:00 UTC is still June 30 in Chicago.
        with time_machine.travel(datetime(2026, 7, 1, 3, 0, tzinfo=UTC), tick=False):
            assert targets_for(gold.client_id, "P3").source == "contract 'Managed Care Gold'"
        with time_machine.travel(datetime(2026, 7, 1, 6, 0, tzinfo=UTC), tick=False):
            assert targets_for(gold.client_id, "P3").source == DEFAULT_SOURCE

    def test_the_newest_current_contract_wins(self, gold: Contract, round_the_clock: Calendar) -> None:
        renewal = Contract.objects.create(client=gold.client, name="Platinum", starts_on=date(2026, 6, 1))
        SlaTarget.objects.create(
            contract=renewal, priority="P3", first_response_minutes=60, calendar=round_the_clock
        )
        assert (
            targets_for(gold.client_id, "P3", on=date(2026, 5, 31)).source == "contract 'Managed Care Gold'"
        )
        newest = targets_for(gold.client_id, "P3", on=FRIDAY_2026_06_19)
        assert (newest.source, newest.first_response_minutes) == ("contract 'Platinum'", 60)
        # The renewal names no P1 target, so the older contract's still applies.
        assert (
            targets_for(gold.client_id, "P1", on=FRIDAY_2026_06_19).source == "contract 'Managed Care Gold'"
        )

    def test_another_clients_contract_does_not_apply(self, gold: Contract, law: Client) -> None:
        assert targets_for(law.pk, "P3", on=FRIDAY_2026_06_19).source == DEFAULT_SOURCE

    @pytest.mark.parametrize(
        ("priority", "expected"),
        [
            ("P1", (30, 60, 240, TWENTY_FOUR_SEVEN)),
            ("P2", (60, 120, 480, TWENTY_FOUR_SEVEN)),
            ("P3", (240, 600, 1200, BUSINESS_HOURS)),
            ("P4", (600, None, 3000, BUSINESS_HOURS)),
        ],
    )
    def test_defaults_without_a_client(self, priority: str, expected: tuple[Any, ...]) -> None:
        targets = targets_for(None, priority, on=FRIDAY_2026_06_19)
        assert targets.source == DEFAULT_SOURCE
        assert (
            targets.first_response_minutes,
            targets.next_update_minutes,
            targets.resolution_minutes,
            targets.calendar_name,
        ) == expected

    def test_the_default_business_hours_calendar_is_the_stored_one(self, settings: Any) -> None:
        stored = Calendar.objects.get(name=BUSINESS_HOURS)
        stored.time_zone = "Europe/Berlin"
        stored.save()
        ClosedDay.objects.create(calendar=stored, date=date(2026, 6, 22))
        calendar = targets_for(None, "P3", on=FRIDAY_2026_06_19).calendar
        assert calendar == CalendarSpec.business_hours("Europe/Berlin", closed_dates=[date(2026, 6, 22)])
        # A P3 ticket at Friday 16:00 in Berlin: 2 h on Friday, the rest from Tuesday 08:00.
        opened = datetime(2026, 6, 19, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
        assert add_business_minutes(calendar, opened, 240) == datetime(
            2026, 6, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")
        )

    def test_deleted_default_calendars_fall_back_to_built_in_ones(self, settings: Any) -> None:
        settings.TIME_ZONE = "America/New_York"
        Calendar.objects.filter(name__in=[TWENTY_FOUR_SEVEN, BUSINESS_HOURS]).delete()
        p3 = targets_for(None, "P3", on=FRIDAY_2026_06_19)
        assert p3.calendar_name == BUSINESS_HOURS
        assert p3.calendar == CalendarSpec.business_hours("America/New_York", "08:00", "18:00")
        p1 = targets_for(None, "P1", on=FRIDAY_2026_06_19)
        assert p1.calendar == CalendarSpec.twenty_four_seven("UTC")

    def test_an_unknown_priority_is_refused(self) -> None:
        with pytest.raises(ValueError):
            targets_for(None, "P9")


class TestQueryCounts:
    def test_a_contract_target_on_business_hours_takes_two_queries(
        self, gold: Contract, django_assert_num_queries: Callable[..., Any]
    ) -> None:
        with django_assert_num_queries(2):
            targets_for(gold.client_id, "P3", on=FRIDAY_2026_06_19)

    def test_a_client_without_a_target_takes_two_queries(
        self, gold: Contract, django_assert_num_queries: Callable[..., Any]
    ) -> None:
        with django_assert_num_queries(2):
            targets_for(gold.client_id, "P4", on=FRIDAY_2026_06_19)

    def test_no_client_takes_one_query(self, django_assert_num_queries: Callable[..., Any]) -> None:
        with django_assert_num_queries(1):
            targets_for(None, "P3", on=FRIDAY_2026_06_19)

    def test_spec_uses_prefetched_rows(
        self, chicago_hours: Calendar, django_assert_num_queries: Callable[..., Any]
    ) -> None:
        with django_assert_num_queries(3):
            calendar = Calendar.objects.prefetch_related("hours", "closed_days").get(pk=chicago_hours.pk)
        with django_assert_num_queries(0):
            prefetched = calendar.spec()
        with django_assert_num_queries(2):
            fetched = chicago_hours.spec()
        assert prefetched == fetched

    def test_a_24x7_spec_needs_no_query(
        self, round_the_clock: Calendar, django_assert_num_queries: Callable[..., Any]
    ) -> None:
        with django_assert_num_queries(0):
            assert round_the_clock.spec() == CalendarSpec.twenty_four_seven("UTC")


class TestStoredCalendars:
    def test_load_calendar_matches_spec(self, chicago_hours: Calendar) -> None:
        loaded = load_calendar(name="Chicago 7–7")
        assert loaded is not None
        assert (loaded.pk, loaded.name, loaded.spec) == (
            chicago_hours.pk,
            "Chicago 7–7",
            chicago_hours.spec(),
        )
        assert load_calendar(pk=chicago_hours.pk) == loaded
        assert load_calendar(name="No such calendar") is None

    def test_load_calendar_of_a_calendar_without_hours(self) -> None:
        empty = Calendar.objects.create(name="Not yet set up", time_zone="Asia/Tokyo")
        loaded = load_calendar(pk=empty.pk)
        assert loaded is not None
        assert loaded.spec == CalendarSpec(zone=ZoneInfo("Asia/Tokyo"), always_open=False)

    def test_closing_at_midnight_and_overlapping_hours(self) -> None:
        calendar = Calendar.objects.create(name="Late shift", time_zone="Australia/Sydney")
        CalendarHours.objects.create(calendar=calendar, weekday=0, opens=time(18), closes=time(0))
        CalendarHours.objects.create(calendar=calendar, weekday=0, opens=time(8), closes=time(12))
        CalendarHours.objects.create(calendar=calendar, weekday=0, opens=time(11), closes=time(13))
        CalendarHours.objects.create(calendar=calendar, weekday=1, opens=time(0), closes=time(0))
        assert calendar.spec().weekly_hours == (
            ((480, 780), (1080, 1440)),
            ((0, 1440),),
            *((),) * 5,
        )

    def test_hours_must_open_before_they_close(self) -> None:
        calendar = Calendar.objects.create(name="Backwards", time_zone="UTC")
        hours = CalendarHours(calendar=calendar, weekday=0, opens=time(18), closes=time(8))
        with pytest.raises(ValidationError):
            hours.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            hours.save()

    @pytest.mark.parametrize(
        ("fields", "error_field"),
        [
            ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
            ({"holiday_country": "XX"}, "holiday_country"),
            ({"holiday_country": "US", "holiday_subdivision": "ZZ"}, "holiday_subdivision"),
            ({"holiday_subdivision": "CA"}, "holiday_country"),
            ({"always_open": True, "holiday_country": "US"}, "holiday_country"),
        ],
    )
    def test_validation(self, fields: dict[str, Any], error_field: str) -> None:
        calendar = Calendar(name="Checked", **fields)
        with pytest.raises(ValidationError) as raised:
            calendar.full_clean()
        assert error_field in raised.value.message_dict

    def test_a_valid_calendar_is_normalised(self) -> None:
        calendar = Calendar(
            name="Bavaria", time_zone="Europe/Berlin", holiday_country="de", holiday_subdivision="BY"
        )
        calendar.full_clean()
        assert calendar.holiday_country == "DE"

    def test_a_calendar_in_use_cannot_be_deleted(self, gold: Contract, chicago_hours: Calendar) -> None:
        with pytest.raises(ProtectedError):
            chicago_hours.delete()


class TestDataMigration:
    migration = importlib.import_module("firstcall.sla.migrations.0002_default_calendars")

    def test_it_created_the_default_calendars(self, settings: Any) -> None:
        round_the_clock = Calendar.objects.get(name=TWENTY_FOUR_SEVEN)
        assert round_the_clock.always_open
        business = Calendar.objects.get(name=BUSINESS_HOURS)
        assert business.spec() == CalendarSpec.business_hours(settings.TIME_ZONE, "08:00", "18:00")

    @pytest.mark.django_db(transaction=True, serialized_rollback=True)
    def test_response_targets_are_copied(self, settings: Any) -> None:
        """Back to before the copy (the old clients.ResponseTarget table exists again), a contract
        with targets, then forward: the targets are SLA targets on the default calendars."""
        settings.TIME_ZONE = "America/Chicago"
        before = [("clients", "0004_business_process_downtime_cost"), ("sla", "0001_initial")]
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        client = old.get_model("clients", "Client").objects.create(name="Old Client")
        contract = old.get_model("clients", "Contract").objects.create(client=client, name="Old Gold")
        for priority, minutes in (("P1", 15), ("P2", 60), ("P3", 120), ("P4", 480)):
            old.get_model("clients", "ResponseTarget").objects.create(
                contract=contract, priority=priority, first_response_minutes=minutes
            )
        self.migration.create_default_calendars(old, None)  # run once by hand: the migration's run
        executor = MigrationExecutor(connection)  # is then a second one, and must add nothing
        executor.migrate(executor.loader.graph.leaf_nodes())
        targets = SlaTarget.objects.filter(contract__client__name="Old Client").select_related("calendar")
        copied = {t.priority: (t.first_response_minutes, t.calendar.name) for t in targets}
        assert copied == {
            "P1": (15, TWENTY_FOUR_SEVEN),
            "P2": (60, TWENTY_FOUR_SEVEN),
            "P3": (120, BUSINESS_HOURS),
            "P4": (480, BUSINESS_HOURS),
        }
        assert targets.get(priority="P1").next_update_minutes is None
        assert Calendar.objects.filter(name__in=[TWENTY_FOUR_SEVEN, BUSINESS_HOURS]).count() == 2
        assert CalendarHours.objects.filter(calendar__name=BUSINESS_HOURS).count() == 5
