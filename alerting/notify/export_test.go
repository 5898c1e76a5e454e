package notify

// Retryable reports whether a Queue would retry after err.
var Retryable = retryable
