"""Framework-free gpt-oss core: harmony rendering and parsing, the engine, the turn loop,
built-in tools and the embedded nano model. Never imports Django."""
