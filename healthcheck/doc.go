// Package healthcheck will hold the health check registry and the /livez,
// /readyz and /healthz handlers. It has no API yet.
package healthcheck
