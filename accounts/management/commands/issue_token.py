from django.core.management.base import BaseCommand, CommandError

from accounts.models import User, normalize_email
from accounts.tokens import issue_tokens


class Command(BaseCommand):
    help = "Prints a fresh access token for an existing, active user (for scripts and load tests)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No user with the email {email!r}.")
        if not user.is_active:
            raise CommandError(f"The user {user.email} is deactivated.")
        self.stdout.write(issue_tokens(user)["access"])
