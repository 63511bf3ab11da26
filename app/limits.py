"""Rate limits on the account steps' POSTs: one per client IP, one per email address."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from .account_session import Flow, current_flow
from .extensions import limiter
from .flows.codes import Source
from .flows.emails import InvalidEmail, normalize_email
from .flows.keyed_hash import keyed_hash
from .network import client_network


def init_app(app) -> None:
    limiter.init_app(app)


def limit_posts(address_key):
    """Apply RATELIMIT_PER_IP (per ``client_network``) and RATELIMIT_PER_ADDRESS (keyed by
    ``address_key``) to POSTs."""

    def decorate(view):
        view = limiter.limit(
            lambda: current_app.config["RATELIMIT_PER_ADDRESS"], key_func=address_key, methods=["POST"]
        )(view)
        return limiter.limit(lambda: current_app.config["RATELIMIT_PER_IP"], key_func=client_network, methods=["POST"])(
            view
        )

    return decorate


def key_for_account(user_id) -> str:
    """Rate-limit key for "per account" limits (RATELIMIT_PER_ADDRESS on forms that name no address)."""
    return f"account:{user_id}"


def account_key() -> str:
    """The logged-in person's account, for their own account forms. Log out may come from a
    browser whose login has ended already: that counts for its address, not for one key
    shared by everybody."""
    if current_user.is_authenticated:
        return key_for_account(current_user.id)
    return "ip:" + client_network()


def network_key() -> str:
    """Where a form names neither address nor account (a passkey on its own): the client's
    network, in a bucket of its own."""
    return "network:" + client_network()


def address_key(address: str) -> str:
    """The one key of every per-address limit: the address as the account stores it, so that
    each way of writing it (full-width letters, capitals, spaces) counts in the same bucket.
    What cannot be an address (and so can never log in) is counted as typed."""
    try:
        return "address:" + normalize_email(address)
    except InvalidEmail:
        return "address:" + (address or "").strip().lower()[:320]


def form_address_key() -> str:
    """The address typed in the form."""
    return address_key(request.form.get("email", ""))


def flow_address_key(purpose: str):
    """The address this browser's flow is waiting for a code for."""

    def key() -> str:
        flow = current_flow(purpose)
        return address_key(flow.address) if flow else "address:-"

    return key


def per_source(key_func):
    """A per-address key counted apart for each source (the client's network): for the steps
    that ask for or take an emailed code. There, the code caps (app/flows/codes.py) bound what
    anyone can do to an address, and give each source only its share; a limit shared by everyone
    who names the address would let one attacker's flood lock its owner out (README, "Security").
    Log in keeps the one key per address, against guessing a password from many networks."""

    def key() -> str:
        return f"{key_func()}|{client_network()}"

    return key


def flow_source(flow: Flow) -> Source:
    """This browser's flow and network, as the code rules count them; the network as a keyed
    hash, so that no IP address is stored with the codes."""
    return Source(flow.id, keyed_hash("network", client_network())[:32])
