"""`pathrl mcp`: the router as a Model Context Protocol server, for agents.

    pathrl mcp --model runs/demo/scorer/ppo/model                  # stdio (the default)
    pathrl mcp --model DIR --transport http --port 8765            # streamable HTTP, 127.0.0.1

Four read-only tools (`tools.py` holds what they do, with no MCP in it; `server.py` wires them
to the SDK; `cli.py` parses the command line):

- `route_question`: ranked legal routes for a question, and the entity it names;
- `run_route`: the answer (route, entity, read-only query, rows) for a question or a path id;
- `list_paths`: the legal join paths, optionally those touching one table;
- `describe_schema`: tables, fields and relations.

See docs/mcp.md.
"""
