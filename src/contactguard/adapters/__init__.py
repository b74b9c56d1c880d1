"""Implementations of the ports: database, delivery transports, clocks, crypto."""
