"""The built-in signals: what a message's words, an alert, the requester and the channel say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from firstcall.triage import signals
from firstcall.triage.engine import TicketFacts, TriageResult, readable_body, triage
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.priority import Priority

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def triaged(subject: str = "", body: str = "", **facts: object) -> TriageResult:
    return triage(TicketFacts(subject=subject, body=body, **facts), now=NOW)  # type: ignore[arg-type]


def test_nothing_said_is_one_person_medium_urgency_p3() -> None:
    result = triaged("Outlook keeps asking for my password")
    assert (result.impact, result.urgency, result.priority) == (Impact.PERSON, Urgency.MEDIUM, Priority.P3)
    assert result.reasons[0].text == (
        "Impact: one person — the default: nothing in the request points to more than one person"
    )
    assert result.reasons[1].text == "Urgency: medium — the default for a new request"
    assert result.next_review_at is None


@pytest.mark.parametrize(
    ("subject", "body", "quoted"),
    [
        ("Nobody can log in", "", "Nobody can"),
        ("Printer", "No one can print this morning.", "No one can"),
        ("Slow printer", "The printer is slow for everyone.", "for everyone"),
        ("Help", "The whole  office lost the shared drive", "whole office"),
        ("Email", "All users get a bounce", "All users"),
        ("Server down!", "", "Server down"),
        ("Files", "I think the server is down again", "server is down"),
        ("Network", "The network's down in the clinic", "network's down"),
        ("Network", "The network’s down in the clinic", "network’s down"),
        ("No web", "Internet is down since 8", "Internet is down"),
        ("Mail", "email is down", "email is down"),
        ("Hi", "Is the e-mail down? nothing arrives", "e-mail down"),
    ],
)
def test_company_phrases_make_impact_company(subject: str, body: str, quoted: str) -> None:
    result = triaged(subject, body)
    assert result.impact == Impact.COMPANY
    assert result.reasons[0].text == f"Impact: the whole company — the message says “{quoted}”"
    assert result.priority == Priority.P2


@pytest.mark.parametrize(
    "text",
    [
        "All good now, thanks!",
        "Hi everyone, my mouse died",
        "My email is down since I changed my password",
        "My internet is down at home",
        "Please install all updates on my laptop",
        "The serverless function docs: nobody cares",
    ],
)
def test_near_misses_stay_one_person(text: str) -> None:
    assert triaged("Question", text).impact == Impact.PERSON


@pytest.mark.parametrize(
    ("body", "quoted"),
    [
        ("Our team cannot open the shared calendar", "Our team"),
        ("The team lead says hi, and the scanner is broken", "The team"),
        ("Several people on the second floor have no Wi-Fi printer", "Several people"),
        ("A few of us lost the mapped drive", "A few of us"),
        ("The whole floor has no phones", "whole floor"),
        ("The whole department can't reach the portal", "whole department"),
        ("I'm in the accounting department and my mouse broke", None),
        ("My PC on the second floor won't boot", None),
    ],
)
def test_team_phrases_make_impact_team(body: str, quoted: str | None) -> None:
    result = triaged("Problem", body)
    if quoted is None:  # saying where one works is not saying a team is stopped
        assert result.impact == Impact.PERSON
        return
    assert result.impact == Impact.TEAM
    assert result.reasons[0].because == f"the message says “{quoted}”"
    assert result.priority == Priority.P3


def test_a_company_phrase_beats_a_team_phrase() -> None:
    assert triaged("Our team and everyone else", "nobody can print").impact == Impact.COMPANY


@pytest.mark.parametrize(
    "body",
    [
        "Looks like ransomware, a note on every screen",
        "Something encrypted our files overnight",
        "All the files have been encrypted",
    ],
)
def test_ransomware_is_company_wide_and_critical(body: str) -> None:
    result = triaged("Urgent help", body)
    assert (result.impact, result.urgency, result.priority) == (
        Impact.COMPANY,
        Urgency.CRITICAL,
        Priority.P1,
    )
    assert result.reasons[0].because.startswith("a security incident: the message says “")
    assert "security" in result.tags


@pytest.mark.parametrize(
    ("body", "quoted"),
    [
        ("I think my account was hacked", "hacked"),
        ("Pop-up says I have a virus", "virus"),
        ("Malware warning on the front desk PC", "Malware"),
        ("Got a phishing email and clicked a link", "phishing"),
        ("My mailbox may be compromised", "compromised"),
        ("Suspicious payment request from the CEO", "Suspicious payment"),
        ("Vendor asks for a wire transfer today, bank details changed", "wire transfer"),
    ],
)
def test_security_signals_raise_impact_to_team_and_urgency_to_high(body: str, quoted: str) -> None:
    result = triaged("Security?", body)
    assert (result.impact, result.urgency, result.priority) == (Impact.TEAM, Urgency.HIGH, Priority.P2)
    assert result.reasons[1].because == f"a possible security incident: the message says “{quoted}”"
    assert result.tags == ("security",)


def test_antivirus_renewal_is_not_a_security_incident() -> None:
    result = triaged("Antivirus renewal", "Our antivirus subscription renews next month; hackathon next week")
    assert (result.impact, result.urgency) == (Impact.PERSON, Urgency.MEDIUM)
    assert result.tags == ()


def test_a_security_signal_never_lowers_a_company_impact() -> None:
    result = triaged("Virus?", "Nobody can open files, a virus maybe")
    assert (result.impact, result.urgency, result.priority) == (Impact.COMPANY, Urgency.HIGH, Priority.P1)
    assert result.reasons[0].because == "the message says “Nobody can”"


def test_emergency_raises_urgency_to_high() -> None:
    result = triaged("Pressed 1", "", is_emergency=True)
    assert (result.urgency, result.priority) == (Urgency.HIGH, Priority.P2)
    assert result.reasons[1].because == "marked as an emergency by the requester"


def test_emergency_for_the_whole_company_is_p1() -> None:
    assert triaged("URGENT server is down", "", is_emergency=True).priority == Priority.P1


def test_vip_moves_urgency_one_step_up() -> None:
    result = triaged("Laptop fan is loud", "", requester_is_vip=True)
    assert (result.urgency, result.priority) == (Urgency.HIGH, Priority.P2)
    assert result.reasons[1].text == (
        "Urgency: high — VIP requester: one step up from medium (the default for a new request)"
    )


def test_vip_emergency_is_critical() -> None:
    result = triaged("Can't print the surgery schedule", "", requester_is_vip=True, is_emergency=True)
    assert (result.urgency, result.priority) == (Urgency.CRITICAL, Priority.P1)
    assert result.reasons[1].because == (
        "VIP requester: one step up from high (marked as an emergency by the requester)"
    )


@pytest.mark.parametrize("body", ["No rush, the spare monitor flickers", "Not urgent: new mouse please"])
def test_the_requester_saying_it_can_wait_makes_urgency_low(body: str) -> None:
    result = triaged("Small thing", body)
    assert (result.urgency, result.priority) == (Urgency.LOW, Priority.P4)
    assert result.reasons[1].because.startswith("the requester says “")


def test_an_emergency_wins_over_no_rush() -> None:
    assert triaged("no rush", "", is_emergency=True).urgency == Urgency.HIGH


@pytest.mark.parametrize(
    ("host", "labels", "impact"),
    [
        ("srv01", (), Impact.COMPANY),
        ("hp-nas01:9100", (), Impact.COMPANY),
        ("DC1.corp.local", (), Impact.COMPANY),
        ("fileserver2", (), Impact.COMPANY),
        ("fw-main", (), Impact.COMPANY),
        ("10.0.0.5:9100", (("role", "server"),), Impact.COMPANY),
        ("laptop-dana", (), Impact.PERSON),
        ("10.0.0.5:9100", (("job", "node"),), Impact.PERSON),
        ("[fe80::1]:9100", (), Impact.PERSON),
    ],
)
def test_a_monitoring_alert_on_a_server_is_company_wide(
    host: str, labels: tuple[tuple[str, str], ...], impact: Impact
) -> None:
    result = triaged("Alert: disk full", "", channel="alert", alert_host=host, alert_labels=labels)
    assert result.impact == impact


def test_a_critical_alert_on_a_server_is_p1_and_says_why() -> None:
    result = triaged(
        "Alert: [CRITICAL] HostDown on srv01",
        "",
        channel="alert",
        alert_host="srv01",
        alert_severity="critical",
        is_emergency=True,
    )
    assert (result.impact, result.urgency, result.priority) == (Impact.COMPANY, Urgency.HIGH, Priority.P1)
    assert result.reasons[0].because == "a monitoring alert on server srv01"
    assert result.reasons[1].because == "a monitoring alert of severity critical"


def test_a_warning_alert_on_a_workstation_stays_p3() -> None:
    result = triaged("Alert: disk 85%", "", channel="alert", alert_host="ws-12", alert_severity="warning")
    assert result.priority == Priority.P3


def test_phrases_are_whole_words_and_case_insensitive() -> None:
    assert signals.read_phrases("VIRUS found").security == "VIRUS"
    assert signals.read_phrases("antivirus").security is None
    assert signals.read_phrases("viruses everywhere").security == "viruses"
    assert signals.read_phrases("phishy smell in the kitchen").security is None
    assert signals.read_phrases("the server\n is down").company == "server is down"
    assert signals.read_phrases("my  email is down, and my server is down").company is None
    assert signals.read_phrases("enemy email is down").company == "email is down"


def test_one_pass_finds_the_first_phrase_of_every_family() -> None:
    said = signals.read_phrases(
        "No rush. Our team thinks it was phishing; now the whole office is out and everyone is upset. "
        "Ransomware?"
    )
    assert said == signals.Phrases(
        company="whole office",
        team="Our team",
        security_critical="Ransomware",
        security="phishing",
        low_urgency="No rush",
    )


def test_a_text_whose_lowercase_is_longer_is_quoted_in_lowercase() -> None:
    # "İ" lowercases to two characters, so positions shift: the quote is the lowercase phrase.
    assert signals.read_phrases("İstanbul office: NOBODY CAN print").company == "nobody can"


def test_each_phrase_belongs_to_one_family() -> None:
    seen: dict[str, str] = {}
    for family, phrases in signals.PHRASE_FAMILIES:
        for phrase in phrases:
            key = signals.normalize_phrase(phrase)
            assert seen.setdefault(key, family) == family, f"{phrase!r} is in {seen[key]} and {family}"


def test_quoted_lines_are_not_read() -> None:
    body = "Can you add a shared mailbox?\n\nOn Monday Dana wrote:\n> The server is down, nobody can work\n"
    assert triaged("Shared mailbox", body).impact == Impact.PERSON
    assert readable_body(body) == "Can you add a shared mailbox?\n\nOn Monday Dana wrote:\n"


def test_only_the_start_of_a_very_long_body_is_read() -> None:
    body = "x" * 7_000 + " nobody can work"
    assert triaged("Log attached", body).impact == Impact.PERSON
