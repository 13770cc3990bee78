"""kpigraph for AI assistants: an MCP server (stdio: ``kpigraph mcp``; HTTP: ``/mcp``)."""
