"""Use-cases shared by the CLI and the management API.

Each function takes an open `Store`, runs in one transaction, enforces Baseten's
lifecycle rules and raises a `BraceError` that says why an action is refused and what
to do instead. Promotions have two sides: `promote` is the user's (start one, or why
not), `promotion_steps` the server's controller's, once per tick (finish, fail, end,
record a rolling step); `rollout_actions` records a user's rollout action for the
controller.
"""
