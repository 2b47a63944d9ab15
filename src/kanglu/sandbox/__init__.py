"""The Tiny sandbox: an HTTP double of Tiny's OAuth server and API v3 for demo, tests and benchmarks."""
