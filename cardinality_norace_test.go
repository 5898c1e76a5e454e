//go:build !race

package vitals_test

// secondAttack is the size of TestCardinalityAttack's second attack: as
// large as the first (a fifth of it under the race detector).
const secondAttack = attackSize
