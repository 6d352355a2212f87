"""The Kedro framework parts: config loader, hooks, the parameter schema, console."""
