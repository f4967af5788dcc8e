"""Staff two-factor sign-in: the code after the password, setting up an app (required for managers
and owners when FIRSTCALL_2FA_REQUIRED_ROLES says so, optional for others), backup codes, removal
by the user and by an owner, and the audit trail of each.

The test settings require nobody (so other tests sign staff in with force_login); the tests here
that are about the requirement turn it on with ``required_roles``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client as HttpClient
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from firstcall.accounts import two_factor
from firstcall.accounts.models import Role, User
from firstcall.tickets.models import AuditEvent
from tests.accounts.conftest import CODE, CODE_STEP, SET_UP, app_code, sign_in, wrong_code

pytestmark = pytest.mark.django_db

SetUpApp = Callable[[User], list[str]]


@pytest.fixture
def required_roles(settings: Any) -> None:
    settings.FIRSTCALL_2FA_REQUIRED_ROLES = ["manager", "owner"]


def audit_actions(user: User) -> list[str]:
    return list(AuditEvent.objects.filter(actor_user=user, ticket=None).values_list("action", flat=True))


def test_settings_know_every_role_and_only_those() -> None:
    assert tuple(django_settings.STAFF_ROLES) == tuple(Role.values)


# --- Signing in ---------------------------------------------------------------------------------


def test_staff_without_an_app_sign_in_with_the_password_alone(required_roles: None, bob: User) -> None:
    browser = HttpClient()
    response = sign_in(browser, "bob", "bob-pass-123")
    assert response.status_code == 302 and response["Location"] == "/"
    assert browser.get("/").status_code == 200


def test_staff_with_an_app_enter_a_code_before_the_console_opens(
    erin: User, set_up_app: SetUpApp, clock: Any
) -> None:
    set_up_app(erin)
    browser = HttpClient()
    response = sign_in(browser, "erin", "erin-pass-123", next_url="/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == f"{CODE}?next=%2Fdashboard%2F"
    # Signed in with the password only: the console still asks for the code.
    queue = browser.get("/")
    assert queue.status_code == 302 and queue["Location"] == f"{CODE}?next=%2F"
    refresh = browser.get("/", headers={"HX-Request": "true"})
    assert refresh.status_code == 204 and refresh["HX-Redirect"] == f"{CODE}?next=%2F"

    page = browser.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "Enter your code" in html
    assert 'autocomplete="one-time-code"' in html and '<label for="id_code">' in html

    done = browser.post(CODE, {"code": app_code(erin), "next": "/dashboard/"})
    assert done.status_code == 302 and done["Location"] == "/dashboard/"
    assert browser.get("/").status_code == 200
    # Nothing is left to do: the code page sends the user on.
    assert browser.get(CODE)["Location"] == "/"


def test_a_wrong_code_is_refused_audited_and_the_console_stays_shut(erin: User, set_up_app: SetUpApp) -> None:
    set_up_app(erin)
    browser = HttpClient()
    sign_in(browser, "erin", "erin-pass-123")
    response = browser.post(CODE, {"code": wrong_code(erin), "next": "/"})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert browser.get("/").status_code == 302
    refusal = AuditEvent.objects.get(action=two_factor.CODE_REFUSED)
    assert refusal.actor_user == erin and refusal.ticket is None
    assert refusal.reason == "wrong code signing in"


def test_a_code_works_once(erin: User, set_up_app: SetUpApp) -> None:
    set_up_app(erin)
    first, second = HttpClient(), HttpClient()
    sign_in(first, "erin", "erin-pass-123")
    sign_in(second, "erin", "erin-pass-123")
    code = app_code(erin)
    assert first.post(CODE, {"code": code})["Location"] == "/"
    # Someone who saw it over the shoulder cannot use it too.
    assert second.post(CODE, {"code": code}).status_code == 400


def test_each_wrong_code_doubles_the_wait_before_the_next_try(
    erin: User, set_up_app: SetUpApp, clock: Any
) -> None:
    set_up_app(erin)
    browser = HttpClient()
    sign_in(browser, "erin", "erin-pass-123")
    for wait in (1, 2):
        browser.post(CODE, {"code": wrong_code(erin)})
        clock.shift(wait)
    browser.post(CODE, {"code": wrong_code(erin)})
    response = browser.post(CODE, {"code": app_code(erin)})  # right, but too soon
    assert response.status_code == 400
    assert "Too many wrong codes: wait 4 seconds, then try again." in response.content.decode()
    clock.shift(4)
    assert browser.post(CODE, {"code": app_code(erin)})["Location"] == "/"


# --- Setting up an app ----------------------------------------------------------------------------


def test_a_manager_must_set_up_an_app_before_anything_else(
    required_roles: None, manager: User, clock: Any
) -> None:
    browser = HttpClient()
    response = sign_in(browser, "mina", "mina-pass-123")
    assert response["Location"] == f"{SET_UP}?next=%2F"
    for page in ("/", "/dashboard/", "/calls/new/", "/account/two-factor/"):
        assert browser.get(page)["Location"].startswith(f"{SET_UP}?next="), page
    assert browser.get(CODE)["Location"] == f"{SET_UP}?next=%2F"

    page = browser.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "Your role signs in with a code from an authenticator app" in html
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    secret = page.context["enrolment"].secret
    assert '<svg width="' in html and "<title>QR code to scan with your app</title>" in html
    assert f"otpauth://totp/firstcall%3Amina?secret={secret}&amp;" in html
    assert page.context["enrolment"].secret_in_groups.replace(" ", "") == secret
    # A reload shows the same key, so an app that scanned it already still matches.
    assert browser.get(SET_UP).context["enrolment"].secret == secret

    wrong = browser.post(SET_UP, {"code": wrong_code(manager), "next": "/"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    assert browser.get("/")["Location"].startswith(SET_UP)
    clock.shift(1)  # a wrong code makes the next try wait a second

    done = browser.post(SET_UP, {"code": app_code(manager), "next": "/"})
    assert done.status_code == 200
    codes = done.context["backup_codes"]
    assert len(codes) == two_factor.BACKUP_CODE_COUNT == len(set(codes))
    assert all(f"<code>{code}</code>" in done.content.decode() for code in codes)
    device.refresh_from_db()
    assert device.confirmed
    assert sorted(StaticToken.objects.filter(device__user=manager).values_list("token", flat=True)) == sorted(
        codes
    )
    # The session that set the app up counts as having entered a code.
    assert browser.get("/").status_code == 200
    assert audit_actions(manager) == [two_factor.CODE_REFUSED, two_factor.ENROLLED]


def test_the_owner_alice_must_set_up_an_app_too(required_roles: None, alice: User) -> None:
    browser = HttpClient()
    browser.force_login(alice)
    assert browser.get("/")["Location"] == f"{SET_UP}?next=%2F"


def test_a_technician_may_choose_to_set_up_an_app(required_roles: None, bob: User, clock: Any) -> None:
    browser = HttpClient()
    browser.force_login(bob)
    queue = browser.get("/")
    assert queue.status_code == 200
    assert 'href="/account/two-factor/"' in queue.content.decode()  # the header's link

    page = browser.get("/account/two-factor/")
    html = page.content.decode()
    assert page.status_code == 200 and ">Off<" in html
    assert f'href="{SET_UP}?next=/account/two-factor/"' in html.replace("%2F", "/")

    set_up = browser.get(f"{SET_UP}?next=/account/two-factor/")
    assert "Your role signs in" not in set_up.content.decode()
    done = browser.post(SET_UP, {"code": app_code(bob), "next": "/account/two-factor/"})
    assert done.status_code == 200 and 'href="/account/two-factor/"' in done.content.decode()
    page = browser.get("/account/two-factor/")
    assert ">On<" in page.content.decode() and page.context["status"].backup_codes_left == 10
    # A second app needs the first removed.
    assert browser.get(SET_UP)["Location"] == "/account/two-factor/"

    clock.shift(CODE_STEP)
    again = HttpClient()
    assert sign_in(again, "bob", "bob-pass-123")["Location"] == f"{CODE}?next=%2F"


# --- Backup codes ----------------------------------------------------------------------------------


def test_a_backup_code_signs_in_once(erin: User, set_up_app: SetUpApp, clock: Any) -> None:
    codes = set_up_app(erin)
    browser = HttpClient()
    sign_in(browser, "erin", "erin-pass-123")
    typed = f" {codes[0][:4].upper()}-{codes[0][4:]} "  # as a person might type it
    assert browser.post(CODE, {"code": typed})["Location"] == "/"
    assert browser.get("/").status_code == 200
    used = AuditEvent.objects.get(action=two_factor.BACKUP_CODE_USED)
    assert used.actor_user == erin and used.after == {"backup_codes_left": 9}

    other = HttpClient()
    sign_in(other, "erin", "erin-pass-123")
    assert other.post(CODE, {"code": codes[0]}).status_code == 400
    clock.shift(1)
    assert other.post(CODE, {"code": codes[1]})["Location"] == "/"
    assert StaticToken.objects.filter(device__user=erin).count() == 8


# --- Removing the app -------------------------------------------------------------------------------


def test_staff_remove_their_app_with_a_current_code(erin: User, set_up_app: SetUpApp, clock: Any) -> None:
    set_up_app(erin)
    browser = HttpClient()
    sign_in(browser, "erin", "erin-pass-123")
    browser.post(CODE, {"code": app_code(erin)})

    refused = browser.post("/account/two-factor/remove/", {"code": wrong_code(erin)})
    assert refused.status_code == 400 and "the app stays" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=erin).exists()

    clock.shift(CODE_STEP)  # the app's next code
    removed = browser.post("/account/two-factor/remove/", {"code": app_code(erin)})
    assert removed["Location"] == "/account/two-factor/"
    assert not TOTPDevice.objects.filter(user=erin).exists()
    assert not StaticDevice.objects.filter(user=erin).exists()
    assert audit_actions(erin)[-1] == two_factor.REMOVED
    event = AuditEvent.objects.get(action=two_factor.REMOVED)
    assert event.after == {"user": "erin"} and event.actor_label == two_factor.LABEL
    # Not required for an engineer: the password alone signs in again.
    again = HttpClient()
    assert sign_in(again, "erin", "erin-pass-123")["Location"] == "/"


def test_a_manager_who_removes_their_app_sets_up_a_new_one_at_once(
    required_roles: None, manager: User, set_up_app: SetUpApp, clock: Any
) -> None:
    set_up_app(manager)
    browser = HttpClient()
    sign_in(browser, "mina", "mina-pass-123")
    browser.post(CODE, {"code": app_code(manager)})
    clock.shift(CODE_STEP)
    response = browser.post("/account/two-factor/remove/", {"code": app_code(manager)}, follow=True)
    assert response.redirect_chain[-1][0].startswith(SET_UP)
    assert "Your app is removed. Your role needs one" in response.content.decode()


def test_removing_needs_a_finished_sign_in(erin: User, set_up_app: SetUpApp) -> None:
    set_up_app(erin)
    browser = HttpClient()
    sign_in(browser, "erin", "erin-pass-123")  # no code yet
    response = browser.post("/account/two-factor/remove/", {"code": app_code(erin)})
    assert response["Location"].startswith(CODE)
    assert TOTPDevice.objects.filter(user=erin, confirmed=True).exists()


# --- The admin ------------------------------------------------------------------------------------


def test_the_admin_asks_staff_with_an_app_for_their_code(alice: User, set_up_app: SetUpApp) -> None:
    User.objects.filter(pk=alice.pk).update(is_staff=True, is_superuser=True)
    set_up_app(alice)
    anonymous = HttpClient()
    to_admin_login = anonymous.get("/admin/")
    assert to_admin_login["Location"] == "/admin/login/?next=/admin/"
    assert anonymous.get(to_admin_login["Location"])["Location"] == "/login/?next=/admin/"

    browser = HttpClient()
    response = sign_in(browser, "alice", "alice-pass-123", next_url="/admin/")
    assert response["Location"] == f"{CODE}?next=%2Fadmin%2F"
    # Password only: the admin sends the user to the code step, through the sign-in page.
    chain = browser.get("/admin/accounts/user/", follow=True).redirect_chain
    assert chain[-1][0] == f"{CODE}?next=%2Fadmin%2Faccounts%2Fuser%2F"

    assert browser.post(CODE, {"code": app_code(alice), "next": "/admin/"})["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/admin/accounts/user/").status_code == 200


def test_an_owner_resets_a_lost_app_in_the_admin(alice: User, erin: User, set_up_app: SetUpApp) -> None:
    User.objects.filter(pk=alice.pk).update(is_staff=True, is_superuser=True)
    set_up_app(erin)
    device = TOTPDevice.objects.get(user=erin)
    owner = HttpClient()
    owner.force_login(User.objects.get(pk=alice.pk))  # alice has no app: her password is enough

    listing = owner.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200 and ">Erin<" in listing.content.decode()
    assert "key" not in listing.context["cl"].list_display
    page = owner.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200 and device.key not in page.content.decode()
    assert owner.get("/admin/otp_static/staticdevice/").status_code == 404  # no page of its own

    response = owner.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=erin).exists()
    assert not StaticDevice.objects.filter(user=erin).exists()
    event = AuditEvent.objects.get(action=two_factor.REMOVED)
    assert event.actor_user == alice and event.actor_label == "admin"
    assert event.after == {"user": "erin"} and event.reason == "removed by an owner in the admin"


def test_only_owners_remove_apps_in_the_admin(manager: User, erin: User, set_up_app: SetUpApp) -> None:
    User.objects.filter(pk=manager.pk).update(is_staff=True, is_superuser=True)
    set_up_app(erin)
    device = TOTPDevice.objects.get(user=erin)
    browser = HttpClient()
    browser.force_login(User.objects.get(pk=manager.pk))
    assert browser.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(user=erin).exists()


def test_a_signed_in_technician_without_admin_access_is_refused_not_looped(bob: User) -> None:
    browser = HttpClient()
    browser.force_login(bob)
    assert browser.get("/admin/", follow=True).status_code == 403


# --- Cost ----------------------------------------------------------------------------------------


def test_knowing_whether_staff_have_an_app_costs_no_query(
    bob: User, erin: User, set_up_app: SetUpApp, django_assert_num_queries: Any
) -> None:
    without_app = HttpClient()
    without_app.force_login(bob)
    with django_assert_num_queries(2):  # session, user (with whether they have an app)
        assert without_app.get("/calls/lookup/?number=").status_code == 200

    set_up_app(erin)
    with_app = HttpClient()
    sign_in(with_app, "erin", "erin-pass-123")
    with_app.post(CODE, {"code": app_code(erin)})
    with django_assert_num_queries(3):  # session, user, the app the session entered a code from
        assert with_app.get("/calls/lookup/?number=").status_code == 200
