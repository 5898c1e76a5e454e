//go:build race

package vitals_test

// secondAttack is the size of TestCardinalityAttack's second attack. The
// race detector makes each value about ten times slower, so with it the
// second attack is a fifth of the first: it still proves no series grow,
// and the heap bound is scaled to it.
const secondAttack = attackSize / 5
