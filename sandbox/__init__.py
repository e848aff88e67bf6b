"""The local stand-in for AWS and the Freddie Mac portal (development, demo and tests only)."""
