"""Hostile input through the real CLI against real BIND and PowerDNS: refused, nothing changed."""
