"""`pipeline init`: adopt the tool in a workspace (facts detected, files planned, then written)."""
