"""Use cases. The API, the web pages and the CLI all call these functions; nothing else decides."""
