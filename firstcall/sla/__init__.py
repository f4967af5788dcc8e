"""SLA calendars (business hours, holidays, time zones), targets per contract and priority, and
the clocks that turn them into deadlines."""
