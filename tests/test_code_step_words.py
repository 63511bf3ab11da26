"""The code step's words: the reset speaks of resetting the password, and a held-back send says
which code works and when a new one can be sent, the same whether or not the address has an
account."""

import re

from .helpers.portal import age_codes, outbox, post, registration

ADDRESSES = ("ann@example.org", "nobody@example.org")


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def test_the_reset_code_step_speaks_of_resetting_the_password(client, app):
    post(client, "/account/register", registration())
    age_codes(app, minutes=2)
    step = text(post(client, "/account/reset", {"email": "ann@example.org"}, follow=True))
    assert "verify your account" not in step and "verification code" not in step.lower()
    assert "Check your inbox and enter the reset code" in step
    assert "We have sent a code to reset your password to your email address (ann@example.org)" in step
    assert "Reset code" in step


def test_the_registration_code_step_keeps_the_seed_words(client):
    step = text(post(client, "/account/register", registration(), follow=True))
    assert "Check your inbox and enter verification code" in step
    assert "Enter the code to verify your account." in step and "Verification code" in step


def test_a_reset_held_back_by_a_registration_code_does_not_send_you_to_that_code(app):
    """Within the minute after a registration code, a reset sends nothing: the step must not
    point to the registration mail, which cannot reset anything."""
    address = "ann@example.org"
    post(app.test_client(), "/account/register", registration(address))
    client = app.test_client()
    step = text(post(client, "/account/reset", {"email": address}, follow=True))
    assert "Enter the code from the most recent email" not in step
    assert "We have not sent a code to reset your password yet" in step
    assert re.search(r"You can ask for a new code in \d+ seconds", step)
    assert not [m for m in outbox(app, address) if "reset" in m.subject.lower()]


def test_held_back_steps_read_the_same_with_or_without_an_account(app):
    post(app.test_client(), "/account/register", registration("ann@example.org"))
    age_codes(app, minutes=2)
    answers = []
    for address in ADDRESSES:
        first, second = app.test_client(), app.test_client()
        first.get("/account/reset")  # the form is shown first, as in a browser (which names this browser)
        post(first, "/account/reset", {"email": address})
        answers.append(text(post(second, "/account/reset", {"email": address}, follow=True)).replace(address, "X"))
        # the first browser, asking again, still has its own code
        again = text(post(first, "/account/reset", {"email": address}, follow=True)).replace(address, "X")
        assert "Enter the code from the most recent email to reset your password" in again
        answers.append(again)
    strip = [re.sub(r"\d+ seconds?", "N", a) for a in answers]
    assert strip[0] == strip[2] and strip[1] == strip[3]
    assert "We have not sent a code to reset your password yet" in answers[0]


def test_the_wait_counts_down_and_is_said_without_javascript(client, app):
    post(client, "/account/register", registration())
    response = post(client, "/account/verify/resend", htmx=True)
    html = response.get_data(as_text=True)
    counter = re.search(r'<span data-countdown="(\d+)"[^>]*aria-live="off"[^>]*>(\d+) seconds</span>', html)
    assert counter and counter.group(1) == counter.group(2) and 50 <= int(counter.group(1)) <= 60
    assert 'data-one="1 second"' in html and 'data-ready="You can ask for a new code now."' in html
    html = post(client, "/fr/account/verify/resend", htmx=True).get_data(as_text=True)
    assert 'data-one="1 seconde"' in html and "secondes</span>" in html
