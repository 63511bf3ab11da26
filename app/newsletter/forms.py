from ..forms import PortalForm


class SubscribeForm(PortalForm):
    """One button; the account comes from the session."""
