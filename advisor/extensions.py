"""Extensions, unbound: `create_app` binds them to an app."""
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate(render_as_batch=True, compare_type=True)
