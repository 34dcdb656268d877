"""One module per node: its LLM answer schema and the messages it sends; prompts live here only."""
