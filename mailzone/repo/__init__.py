"""A mailzone repository on disk: project loading, state files, scaffold (init), validate."""
