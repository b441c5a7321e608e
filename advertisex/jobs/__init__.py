"""Flink jobs from the client side: submit PyFlink scripts, list, stop, cancel, savepoint."""
