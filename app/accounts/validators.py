"""Password rules on top of Django's own (settings.AUTH_PASSWORD_VALIDATORS)."""

from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    """Django keeps passwords unstripped, so eight spaces pass its length rule; refuse them."""

    def validate(self, password, user=None):
        if not password.strip():
            raise ValidationError("Your password cannot be only spaces.", code="password_only_whitespace")

    def get_help_text(self):
        return "Your password cannot be only spaces."
