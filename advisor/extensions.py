"""Extensions, unbound: `create_app` binds them to an app."""
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect


class StrictReferrerCSRF(CSRFProtect):
    """Flask-WTF's protection, except that a Referer it cannot parse is refused like a wrong one.

    Over HTTPS Flask-WTF compares the Referer with the host through `urlparse`, which raises ValueError on
    `https://[::1/` or a non-numeric port (`https://127.0.0.1:5302.evil.example/`): a 500 for a header any
    client can send. A malformed header is the client's error, so it answers 400 with the CSRF page.
    """

    def protect(self, apply_exemptions: bool = False) -> None:
        try:
            super().protect(apply_exemptions=apply_exemptions)
        except ValueError:
            self._error_response("The referrer header is malformed.")


login_manager = LoginManager()
csrf = StrictReferrerCSRF()
migrate = Migrate(render_as_batch=True, compare_type=True)
