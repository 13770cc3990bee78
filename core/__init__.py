"""What the CLI and the API share: settings, wiring of stores, security."""
