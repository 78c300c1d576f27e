"""The laptop side of i2v: the embedded local cloud and the `i2v` command line.

Sits on top of everything: it may import the functions (`i2v`) and the infra constants, and it
knows the provider simulator only by URL.
"""
