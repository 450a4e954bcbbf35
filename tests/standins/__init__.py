"""Local HTTP servers standing in for the external services Firebell talks to."""
