"""Wire adapters: OpenAI-compatible chat completions and Anthropic messages."""
