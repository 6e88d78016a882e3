"""Rolling deployments: pure decisions (settings rules, actions) and, later, the driver."""
