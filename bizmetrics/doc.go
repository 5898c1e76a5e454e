// Package bizmetrics will hold typed business metrics: orders and revenue,
// registrations, database and cache operations. It has no API yet.
package bizmetrics
