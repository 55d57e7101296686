"""Pure models and rules: no I/O, no SQL, no HTTP."""
