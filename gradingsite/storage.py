from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed, far-future-cached static files once ``collectstatic`` has run.

    Before it has run (no manifest yet: a bare ``gunicorn`` start on a fresh checkout), pages
    link the plain file names instead of failing, and WhiteNoise serves those files straight
    from the apps (``WHITENOISE_USE_FINDERS``), uncompressed and briefly cached.
    """

    def stored_name(self, name):
        if not self.hashed_files:
            return name
        return super().stored_name(name)
