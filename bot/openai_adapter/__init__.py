"""The OpenAI side: the SDK client, its HTTP transport and the stream decoding."""
