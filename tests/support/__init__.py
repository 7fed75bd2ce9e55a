"""Helpers shared by the suite: our own clients (raw, recording, wright), the sans-IO wire, the
standalone-server runner, and the fuzzers' and the catalogue's data."""
