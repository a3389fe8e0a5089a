"""Fakes of outside services that talk real protocols (a SendGrid-compatible HTTP server)."""
