from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from gradingsite.validators import validate_name
from gradingsite.versions import Versioned

SOCIAL_KEYS = ("facebook", "twitter", "github", "website")


def normalize_email(email: str) -> str:
    """The one spelling of an email address this project stores and looks up: trimmed, lower-cased."""
    return (email or "").strip().lower()


class UserQuerySet(models.QuerySet):
    def by_email(self, email: str):
        return self.filter(email=normalize_email(email))


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("Users must have an email address")
        user = self.model(email=normalize_email(email), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(Versioned, AbstractBaseUser, PermissionsMixin):
    """A person: teacher, student or admin. The email address is the login; there is no username.

    ``is_superuser`` is the API's ``is_admin``. Passwords are optional (login is by emailed code);
    a superuser may keep one for the admin.
    """

    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True, validators=[validate_name])
    last_name = models.CharField(max_length=150, blank=True, validators=[validate_name])
    social = models.JSONField(default=dict, blank=True)
    # Email this user about their results (grades published or changed); login codes are always sent.
    notify_by_email = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Tokens issued before this moment are refused ("log out everywhere").
    tokens_valid_after = models.DateTimeField(null=True, blank=True)
    # When this user last wrote through the API (kept only with read replicas): their reads stay on
    # the primary for a while after it (gradingsite.replicas).
    last_write_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()
    # Sign-ins and sign-outs are not changes of the user's representation (its version).
    unversioned_fields = frozenset({"last_login", "password", "tokens_valid_after", "last_write_at"})

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        constraints = [
            # Stored lower-cased, so the plain unique index is also case-insensitive.
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="user_email_lowercase"),
        ]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.first_name or self.email


class LoginCode(models.Model):
    """The one live one-time login code of a user, stored only as a keyed hash.

    A user has at most one row: issuing a new code overwrites it (so older codes stop working),
    redeeming it deletes it (single use). ``attempts`` counts wrong tries; the code is dead at
    ``settings.LOGIN_CODE_MAX_ATTEMPTS``. See ``accounts.codes``.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="login_code")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)

    def __str__(self):
        return f"login code for user {self.user_id}"


class LoginThrottle(models.Model):
    """Recent counted requests for one rate-limit key (``ip:…``, ``email:…``), shared by every process.

    ``hits`` is a list of epoch seconds within the last window; the row is locked while it is read
    and updated, so concurrent workers never both take the last slot. See ``accounts.ratelimit``.
    """

    key = models.CharField(max_length=320, unique=True)
    hits = models.JSONField(default=list)
    updated_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.key


class IdempotencyKey(models.Model):
    """A write made with an ``Idempotency-Key``: its answer, replayed to a retry of the same request.

    One per caller and key, for 24 hours (``gradingsite.api.idempotency``). ``request_hash`` is the
    SHA-256 of the method, path and body, so the same key with another request is told apart;
    ``headers`` are the answer's own (``Content-Type``, ``ETag``, ``Location``...), sent again with it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]
        # A caller's live keys are counted before a new one is taken (IDEMPOTENCY_KEYS_PER_USER).
        indexes = [models.Index(fields=["user", "created_at"], name="idempotency_key_user_time")]

    def __str__(self):
        return f"{self.key} ({self.status})"
