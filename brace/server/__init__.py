"""The local server: gateway, management API, controller."""
