"""One construct per concern of the pipeline; the stack only wires them together."""
