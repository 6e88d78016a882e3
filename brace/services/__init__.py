"""Use-cases shared by the CLI and the management API.

Each function takes an open `Store`, runs in one transaction, enforces Baseten's
lifecycle rules and raises a `BraceError` that says why an action is refused and what
to do instead.
"""
