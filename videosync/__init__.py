"""videosync: watch videos together, in sync. The Go-compatible successor of the Go VideoSync server."""

__version__ = "0.1.0"
