"""The admin's sign-in page: an emailed one-time code, or a password for those who have one.

One URL, ``/admin/login/`` (``GradingAdminSite.login`` hands its requests here):

- ``GET`` shows "email me a code"; ``GET ?with=password`` shows Django's password form.
- ``POST step=request-code`` (``email``) counts the request against the login limits and emails
  a code to an active user who may use the admin (``site.may_enter``, the policy's answer); the answer
  is the same for any address, then the "enter the code" form.
- ``POST step=verify-code`` (``email``, ``code``) checks the code through
  ``accounts.backends.EmailCodeBackend`` and signs the person in with Django's ``login()``.
- Any other ``POST`` is Django's password login (username = email), unchanged.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters

from accounts import codes, ratelimit
from accounts.email import EmailUnavailable

CODE_TEMPLATE = "admin/code_login.html"
PASSWORD_TEMPLATE = "admin/password_login.html"


class CodeRequestForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class CodeEntryForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.HiddenInput)
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


def _next_url(request, site) -> str:
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index", current_app=site.name)


def _context(site, request, extra_context, **more) -> dict:
    next_url = _next_url(request, site)
    return {
        **site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
        REDIRECT_FIELD_NAME: next_url,
        "code_login_url": f"{request.path}?{urlencode({REDIRECT_FIELD_NAME: next_url})}",
        "password_login_url": f"{request.path}?{urlencode({'with': 'password', REDIRECT_FIELD_NAME: next_url})}",
        **(extra_context or {}),
        **more,
    }


def _render(site, request, extra_context, *, form, stage, status=200, **more):
    request.current_app = site.name
    context = _context(site, request, extra_context, form=form, stage=stage, **more)
    return TemplateResponse(request, CODE_TEMPLATE, context, status=status)


def _password_login(site, request, extra_context):
    request.current_app = site.name
    return LoginView.as_view(
        authentication_form=site.login_form or AdminAuthenticationForm,
        template_name=PASSWORD_TEMPLATE,
        extra_context=_context(site, request, extra_context),
    )(request)


def _request_code(site, request, extra_context):
    form = CodeRequestForm(request.POST)
    if not form.is_valid():
        return _render(site, request, extra_context, form=form, stage="email", status=400)
    email = form.cleaned_data["email"]
    try:
        codes.request_login_code(
            email=email, ip=ratelimit.client_ip(request), create_user=False, allowed=site.may_enter
        )
    except ratelimit.LimitExceeded as exc:
        form.add_error(None, f"Too many sign-in requests. Try again in {max(1, round(exc.wait / 60))} minutes.")
        return _render(site, request, extra_context, form=form, stage="email", status=429)
    except EmailUnavailable as exc:
        form.add_error(None, str(exc.detail))
        return _render(site, request, extra_context, form=form, stage="email", status=503)
    entry = CodeEntryForm(initial={"email": email})
    return _render(site, request, extra_context, form=entry, stage="code", email=email)


def _verify_code(site, request, extra_context):
    form = CodeEntryForm(request.POST)
    if not form.is_valid():
        if "email" in form.errors:  # the hidden field was tampered with: start again
            return _render(site, request, extra_context, form=CodeRequestForm(), stage="email", status=400)
        return _render(
            site, request, extra_context, form=form, stage="code", status=400, email=form.data.get("email", "")
        )
    email = form.cleaned_data["email"]
    try:
        user = authenticate(request, email=email, code=form.cleaned_data["code"])
    except ratelimit.LimitExceeded as exc:
        form.add_error(None, f"Too many wrong codes. Try again in {max(1, round(exc.wait / 60))} minutes.")
        return _render(site, request, extra_context, form=form, stage="code", status=429, email=email)
    if user is None:
        form.add_error(None, "That code is wrong, expired or already used. Check the email, or ask for a new code.")
        return _render(site, request, extra_context, form=form, stage="code", status=400, email=email)
    if not site.may_enter(user):
        form = CodeRequestForm({"email": email})
        form.is_valid()
        form.add_error(None, "This account cannot use the admin.")
        return _render(site, request, extra_context, form=form, stage="email", status=403)
    auth_login(request, user)
    return HttpResponseRedirect(_next_url(request, site))


@sensitive_post_parameters("code", "password")
def login(request, site, extra_context=None):
    """The view behind ``site.login``: see the module docstring."""
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "request-code":
            return _request_code(site, request, extra_context)
        if step == "verify-code":
            return _verify_code(site, request, extra_context)
        return _password_login(site, request, extra_context)
    if request.GET.get("with") == "password":
        return _password_login(site, request, extra_context)
    return _render(site, request, extra_context, form=CodeRequestForm(), stage="email")
