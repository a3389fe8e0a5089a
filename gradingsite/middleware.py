from django.middleware.security import SecurityMiddleware


class ProxiedSecurityMiddleware(SecurityMiddleware):
    """Django's SecurityMiddleware, redirecting to HTTPS only requests that came through the proxy.

    Heroku's router terminates TLS and always sets ``X-Forwarded-Proto``; a request through it
    with ``http`` is redirected as ``SECURE_SSL_REDIRECT`` asks. A request without the header
    reached the process directly (a local run, a health probe on the dyno), where there is no
    HTTPS to redirect to. Every other protection (HSTS, nosniff, referrer policy) is unchanged.
    """

    def process_request(self, request):
        if "HTTP_X_FORWARDED_PROTO" not in request.META:
            return None
        return super().process_request(request)
